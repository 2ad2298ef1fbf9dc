import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { WORKER_HARD_STOP_MS, WorkerExecutor } from '@taskwarden/executor-local';
import { isGone, launchDirectly, sleep, tempDir, until, waitGone } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import {
  fixture,
  killsOnExit,
  liveChildren,
  readPid,
  ref,
  sentinels,
  startHarness,
  TIMINGS,
  threadCgroupsLeftBy,
  threadsEnded,
} from './worker-harness.js';

/**
 * Issue 14.8: processes spawned by worker-thread tasks are stopped with the task's thread — on a
 * hard stop, when the thread ends for any reason, on close() and when the host dies — process
 * groups, processes that left them, and children of `*Sync` calls included.
 */
const HARD_AT_ONCE = { ...TIMINGS, gracePeriodMs: 0 };

/** Pids the task reported as progress. */
async function reportedPids(task: { readonly progress: unknown }): Promise<number[]> {
  await until(() => Array.isArray(task.progress), 'the task to report its pids');
  return task.progress as number[];
}

describe('WorkerExecutor: processes spawned by worker tasks (issue 14.8)', () => {
  it('a hard stop kills the whole tree before the outcome: group, setsid escapee, cleared environment', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    for (const how of ['spawnsTreeAndIgnoresCancel', 'execsTreeAndIgnoresCancel'] as const) {
      const task = h.submit(ref('spawns.mjs', how), undefined, { cancellation: HARD_AT_ONCE });
      const pids = await reportedPids(task);
      expect(pids.filter(isGone), how).toEqual([]);
      task.cancel();
      const outcome = await task.done;
      expect(outcome).toMatchObject({ state: 'CANCELED', abandoned: false });
      // Gone when the outcome is reported, not later.
      expect(
        pids.filter((pid) => !isGone(pid)),
        how,
      ).toEqual([]);
    }
  });

  it('the hard stop ends within its bound (hardStopMs): a watchdog at exactly gracePeriodMs + hardStopMs never fires', async () => {
    const tight = { interruptIntervalMs: 1_000, gracePeriodMs: 0, timeoutMs: WORKER_HARD_STOP_MS };
    expect(() => startHarness({ cancellation: { ...tight, timeoutMs: WORKER_HARD_STOP_MS - 1 } })).toThrow(
      /hardStopMs/,
    );
    await using h = startHarness({ executor: { maxThreads: 1 }, cancellation: tight });
    for (const how of ['spawnsTreeAndIgnoresCancel', 'blocksInExecSync', 'spinForever'] as const) {
      using dir = tempDir('bound');
      const invokable = how === 'spinForever' ? ref('stubborn.mjs', how) : ref('spawns.mjs', how);
      const task = h.submit(invokable, dir.file('pid'));
      await until(() => task.state === 'RUNNING', 'RUNNING');
      await sleep(50); // the tree or the blocking child has started
      task.cancel();
      expect(await task.done, how).toMatchObject({ state: 'CANCELED', abandoned: false });
    }
    expect(h.fatal.errors).toEqual([]);
  });

  it('a thread blocked in execSync, spawnSync or execFileSync is freed by the hard stop: the child is killed', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    using dir = tempDir('sync-spawn');
    for (const how of ['blocksInExecSync', 'blocksInSpawnSync'] as const) {
      const pidFile = dir.file(`${how}.pid`);
      const task = h.submit(ref('spawns.mjs', how), pidFile, { cancellation: HARD_AT_ONCE });
      await until(() => readPid(pidFile) !== undefined, 'the blocked child to start');
      const pid = readPid(pidFile) as number;
      task.cancel();
      // Without the kill, the thread would stay blocked for the child's 1000 s, and the task with it.
      expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
      expect(isGone(pid)).toBe(true);
    }
    expect(h.fatal.errors).toEqual([]);
  });

  it('a hard stop that races the thread’s first spawn still kills the child: none escapes', async () => {
    const tight = { interruptIntervalMs: 1_000, gracePeriodMs: 0, timeoutMs: WORKER_HARD_STOP_MS };
    using dir = tempDir('spawn-race');
    const pidFiles: string[] = [];
    await using h = startHarness({ executor: { maxThreads: 1 }, cancellation: tight });
    // Disposed before the harness: should a child have escaped, its thread would never exit, and
    // closing the runtime would wait for it for ever.
    using _escaped = killsOnExit(() =>
      pidFiles.flatMap((file) => {
        const pid = readPid(file);
        return pid === undefined ? [] : [pid];
      }),
    );
    for (let round = 0; round < 30; round++) {
      const pidFile = dir.file(`${round}.pid`);
      pidFiles.push(pidFile);
      const task = h.submit(ref('spawns.mjs', 'blocksInExecSync'), pidFile);
      await until(() => task.state === 'RUNNING', 'RUNNING');
      // Each round runs on a fresh thread, whose first spawn starts its sentinel first: a hard
      // stop now and then lands between the thread's "I spawn" and the child's existence.
      await sleep(round % 6);
      task.cancel();
      expect(await task.done, `round ${round}`).toMatchObject({ state: 'CANCELED', abandoned: false });
    }
  });

  it('a forked Node child is killed by the hard stop', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    const task = h.submit(ref('spawns.mjs', 'forksAndIgnoresCancel'), undefined, {
      cancellation: HARD_AT_ONCE,
    });
    const [pid] = await reportedPids(task);
    task.cancel();
    expect(await task.done).toMatchObject({ state: 'CANCELED' });
    expect(isGone(pid as number)).toBe(true);
  });

  it('hard-stopping one thread leaves what another thread’s task spawned, and the host’s own children, alone', async () => {
    await using h = startHarness({ executor: { maxThreads: 2 } });
    const own = spawn('sleep', ['1000'], { stdio: 'ignore' });
    try {
      const stopped = h.submit(ref('spawns.mjs', 'spawnsTreeAndIgnoresCancel'), undefined, {
        cancellation: HARD_AT_ONCE,
      });
      const bystander = h.submit(ref('spawns.mjs', 'spawnsTreeAndIgnoresCancel'), undefined, {
        cancellation: HARD_AT_ONCE,
      });
      const [stoppedPids, bystanderPids] = await Promise.all([
        reportedPids(stopped),
        reportedPids(bystander),
      ]);
      stopped.cancel();
      await stopped.done;
      expect(stoppedPids.filter((pid) => !isGone(pid))).toEqual([]);
      expect(bystanderPids.filter(isGone)).toEqual([]);
      expect(isGone(own.pid as number)).toBe(false);
      bystander.cancel();
      await bystander.done;
      expect(bystanderPids.filter((pid) => !isGone(pid))).toEqual([]);
    } finally {
      own.kill('SIGKILL');
      await once(own, 'exit');
    }
  });

  it('what a finished task left running is killed when its thread ends: idle timeout, close()', async () => {
    await using h = startHarness({ executor: { maxThreads: 1, idleTimeoutMs: 100 } });
    const left = h.submit(ref('spawns.mjs', 'spawnsTreeAndReturns'));
    expect(await left.done).toMatchObject({ state: 'FINISHED', result: 'left a tree behind' });
    const pids = left.progress as number[];
    // Still running while the thread lives (a finished task's leftovers are not its work any more)…
    expect(pids.filter(isGone)).toEqual([]);
    // …and gone once the idle thread has been ended.
    await until(() => h.executor.threadCount === 0, 'the idle thread to be ended', 3_000);
    expect(pids.filter((pid) => !isGone(pid))).toEqual([]);

    const executor = new WorkerExecutor({ maxThreads: 1 });
    const run = launchDirectly(executor, { invokable: ref('spawns.mjs', 'spawnsTreeAndReturns') });
    await run.result;
    const closedPids = run.progress[0] as number[];
    await executor.close();
    expect(closedPids.filter((pid) => !isGone(pid))).toEqual([]);
    await threadsEnded();
    // Each thread's sentinel ends once its thread has (the host being alive).
    await until(() => sentinels().length === 0, 'the sentinels to end', 3_000);
  });

  // Regression: Node destroys a child's stdin when the child exits, and the sentinel's first
  // process exits at once; its pipe ended with it, and the sentinel, seeing the host alive, ended
  // too: only a host that died within half a second of its thread's first spawn had its tree killed.
  it('a tree does not outlive a host that dies (SIGKILL), however long after the thread’s first spawn', async () => {
    const host = spawn(process.execPath, [fixture('spawning-host.mjs')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let pids: number[] = [];
    try {
      let out = '';
      host.stdout.on('data', (chunk) => {
        out += chunk;
      });
      await until(() => out.includes('\n'), 'the host to report the tree', 10_000);
      pids = JSON.parse(out.split('\n')[0] as string) as number[];
      expect(pids.filter(isGone)).toEqual([]);
      // Longer than the sentinel watches a host whose pipe ended.
      await sleep(1_000);
      const watchers = sentinels(host.pid);
      expect(watchers).toHaveLength(1);
      host.kill('SIGKILL');
      await once(host, 'exit');
      // The sentinel notices within half a second, then becomes a reaper that kills the tree and ends.
      await waitGone(pids, 5_000);
      await waitGone(watchers, 5_000);
    } finally {
      if (host.exitCode === null && host.signalCode === null) {
        host.kill('SIGKILL');
        await once(host, 'exit');
      }
      // What a failure left (the test's own cleanup, by pid).
      for (const pid of pids) if (!isGone(pid)) process.kill(pid, 'SIGKILL');
    }
    // The reaper removes the thread's cgroup once it is empty.
    await until(
      () => threadCgroupsLeftBy(host.pid as number).length === 0,
      'the cgroup to be removed',
      5_000,
    );
  });

  it('tasks that spawn nothing start no process; a short command ends on its own', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    const before = liveChildren();
    expect((await h.submit(ref('invokables.mjs'), 'no spawn').done).state).toBe('FINISHED');
    expect(liveChildren()).toEqual(before);
    using dir = tempDir('short');
    const outcome = await h.submit(ref('spawns.mjs', 'runsAShortCommand'), dir.file('ran')).done;
    expect(outcome).toMatchObject({ state: 'FINISHED', result: 'ran' });
    await sleep(10);
    // Only the thread's sentinel is left (until the thread ends); the command itself is gone.
    expect(sentinels()).toHaveLength(1);
  });
});
