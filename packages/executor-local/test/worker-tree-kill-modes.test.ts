import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { WorkerExecutor } from '@taskwarden/executor-local';
import type { TreeKillMode } from '@taskwarden/sdk/internal';
import { TREE_KILL_MODES } from '@taskwarden/sdk/internal';
import {
  captureLogger,
  isGone,
  launchDirectly,
  sleep,
  tempDir,
  until,
  waitGone,
} from '@taskwarden/sdk/testing';
import type pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  fixture,
  killsOnExit,
  readPids,
  ref,
  sentinels,
  startHarness,
  TIMINGS,
  threadCgroupsLeftBy,
  treeKillModesHere,
} from './worker-harness.js';

// Issue 14.8: what a worker task spawns dies with the task's hard stop, close() and the host's
// death, with the process executor's guarantees (issue 14.1): a process tree's descendants that
// left its process group, its session or both are killed as far as the tree-kill mode reaches,
// the strongest the machine allows, and exactly what the README's table says escapes each mode.
// The task spawns a process (so it leads its own group and session, as a process executor's child
// does) whose descendants leave in the five ways of the process executor's own test.

/** The ways of `escapes-launcher.mjs` (the process executor's `escapes.mjs`). */
const ESCAPE_WAYS = ['timeout-job', 'bash-m-job', 'setsid-daemon', 'detached', 'env-cleared-daemon'];

/** What each tree-kill mode lets escape, as the README says. */
const ESCAPES: Record<TreeKillMode, readonly string[]> = {
  cgroup: [],
  // Left the session, and no cookie in its environment.
  cookie: ['env-cleared-daemon'],
  // Everything that left the spawn's process group.
  'process-group': ESCAPE_WAYS,
};

const HARD_AT_ONCE = { ...TIMINGS, gracePeriodMs: 0 };

function entries(pidFile: string): Array<{ role: string; pid: number }> {
  return readFileSync(pidFile, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as { role: string; pid: number });
}

/** The pid of the spawned process ('child') and of each way's leaf. */
function recordedPids(pidFile: string): { child: number; leaves: Map<string, number> } {
  const recorded = entries(pidFile);
  const pidOf = (role: string) => {
    const entry = recorded.find((candidate) => candidate.role === role);
    if (entry === undefined) throw new Error(`no ${role} recorded: ${JSON.stringify(recorded)}`);
    return entry.pid;
  };
  return { child: pidOf('child'), leaves: new Map(ESCAPE_WAYS.map((way) => [way, pidOf(way)])) };
}

function untilInvoked(pidFile: string, ms?: number): Promise<void> {
  return until(
    () => entries(pidFile).some((entry) => entry.role === 'invoked'),
    `'invoked' in ${pidFile}`,
    ms,
  );
}

/** The pid files of the tests; afterEach kills by pid whatever a failed test left. */
const dir = tempDir('worker-tree-kill');
afterAll(() => dir.remove());
const pidFiles: string[] = [];
let pidFileCount = 0;

function newPidFile(): string {
  const file = dir.file(`pids-${pidFileCount++}.jsonl`);
  writeFileSync(file, '');
  pidFiles.push(file);
  return file;
}

/**
 * Expects the spawned process and every leaf but the mode's documented escapes to be gone (within
 * `ms`), and those to be alive; then kills the escapes (the test's own cleanup) and checks they are
 * gone too.
 */
async function expectOnlyDocumentedEscapes(mode: TreeKillMode, pidFile: string, ms: number): Promise<void> {
  const { child, leaves } = recordedPids(pidFile);
  const escaped = ESCAPES[mode];
  const mustDie = [child, ...[...leaves].filter(([way]) => !escaped.includes(way)).map(([, pid]) => pid)];
  await waitGone(mustDie, ms);
  const alive = [...leaves].filter(([, pid]) => !isGone(pid)).map(([way]) => way);
  expect(alive.sort()).toEqual([...escaped].sort());
  const survivors = escaped.map((way) => leaves.get(way) as number);
  for (const pid of survivors) process.kill(pid, 'SIGKILL');
  await waitGone(survivors);
}

describe('WorkerExecutor treeKill option', () => {
  it('is checked: a type or mode name that is wrong, or a mode this machine does not offer, is refused', async () => {
    expect(() => new WorkerExecutor({ treeKill: 'pgid' as never })).toThrow(RangeError);
    expect(() => new WorkerExecutor({ treeKill: 'pgid' as never })).toThrow(/treeKill must be 'auto'/);
    expect(() => new WorkerExecutor({ treeKill: 1 as never })).toThrow(TypeError);
    expect(() => new WorkerExecutor({ logger: {} as never })).toThrow(/logger must be a pino logger/);
    const strongest = treeKillModesHere()[0] as TreeKillMode;
    for (const stronger of TREE_KILL_MODES.slice(0, TREE_KILL_MODES.indexOf(strongest))) {
      expect(() => new WorkerExecutor({ treeKill: stronger })).toThrow(
        new RegExp(`treeKill '${stronger}' is not available here: `),
      );
    }
    const executor = new WorkerExecutor();
    expect(executor.treeKill).toBe(strongest);
    await executor.close();
  });
});

describe.each(treeKillModesHere())(
  'tree kill by %s: what worker tasks spawn, and their descendants',
  (mode) => {
    let host: ChildProcess | undefined;
    // Registered first, so it runs after each test's own disposals (after-each hooks run last-registered first).
    afterEach(async () => {
      if (host?.pid !== undefined && !isGone(host.pid)) {
        host.kill('SIGKILL');
        await once(host, 'exit');
      }
      host = undefined;
      // Whatever a failed test left.
      const left = pidFiles
        .flatMap((file) => entries(file).map((entry) => entry.pid))
        .filter((pid) => !isGone(pid));
      for (const pid of left) process.kill(pid, 'SIGKILL');
      pidFiles.length = 0;
      expect(left).toEqual([]);
      // The cgroups of the threads this test process started are all removed.
      expect(threadCgroupsLeftBy(process.pid)).toEqual([]);
    });

    it('reports its mode and logs it once, at info', async () => {
      const { logger, lines } = captureLogger();
      const executor = new WorkerExecutor({ treeKill: mode, logger });
      expect(executor.treeKill).toBe(mode);
      const line = lines.filter((entry) => String(entry.msg).includes('killing the process trees'));
      expect(line).toEqual([
        expect.objectContaining({
          level: 30,
          treeKill: mode,
          msg: `worker executor: killing the process trees tasks spawn by ${mode}`,
        }),
      ]);
      if (mode === 'cgroup') expect(line[0]?.cgroupDir).toEqual(expect.any(String));
      if (mode !== treeKillModesHere()[0]) expect(line[0]?.unavailable).toBeDefined();
      await executor.close();
      // Without an executor logger, the first task's logger gets it, once.
      const first = captureLogger();
      await using h = startHarness({
        executor: { treeKill: mode, logger: undefined },
        logger: first.logger as pino.Logger,
      });
      for (const input of ['a', 'b']) await h.submit(ref('invokables.mjs'), input).done;
      expect(
        first.lines.filter((entry) => String(entry.msg).includes('killing the process trees')),
      ).toHaveLength(1);
    });

    it('after a hard stop, only what the mode documents survives', async () => {
      await using h = startHarness({ executor: { maxThreads: 1, treeKill: mode } });
      const pidFile = newPidFile();
      const task = h.submit(
        ref('spawns.mjs', 'startsEscapingDescendants'),
        { pidFile },
        { cancellation: HARD_AT_ONCE },
      );
      await untilInvoked(pidFile);
      task.cancel();
      expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
      // `done` waits for the tree: what had to die is gone already.
      await expectOnlyDocumentedEscapes(mode, pidFile, 0);
    });

    it('a thread blocked in execSync is freed by the hard stop: the child and what it started die', async () => {
      const pidFile = dir.file(`sync-${pidFileCount++}.pids`);
      const pids = () => readPids(pidFile);
      {
        await using h = startHarness({ executor: { maxThreads: 1, treeKill: mode } });
        // Disposed before the harness: should the child have escaped, its thread would never exit,
        // and closing the runtime would wait for it for ever.
        using _escaped = killsOnExit(pids);
        const task = h.submit(ref('spawns.mjs', 'blocksInExecSyncWithEnvClearedChild'), pidFile, {
          cancellation: HARD_AT_ONCE,
        });
        await until(() => pids().length === 2, 'the blocked child and its own child to start');
        task.cancel();
        // The child's pid never reached the host (the thread is blocked until it exits): the host
        // finds it among its own children by the thread's cookie.
        expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
        expect(pids().filter((pid) => !isGone(pid))).toEqual([]);
      }
      await waitGone(pids());
    });

    it('after close(), only what the mode documents survives, also of a task that returned', async () => {
      const executor = new WorkerExecutor({ maxThreads: 2, treeKill: mode });
      const running = newPidFile();
      const returned = newPidFile();
      const run = launchDirectly(executor, {
        invokable: ref('spawns.mjs', 'startsEscapingDescendants'),
        input: { pidFile: running },
      });
      const left = launchDirectly(executor, {
        invokable: ref('spawns.mjs', 'startsEscapingDescendants'),
        input: { pidFile: returned, returns: true },
      });
      expect(await left.result).toBe('returned');
      await untilInvoked(running);
      await executor.close();
      expect((await run.outcome).ok).toBe(false);
      await expectOnlyDocumentedEscapes(mode, running, 0);
      await expectOnlyDocumentedEscapes(mode, returned, 0);
      await until(() => sentinels().length === 0, 'the sentinels to end', 3_000);
    });

    it('after the host is SIGKILLed, only what the mode documents survives, and the thread’s cgroup goes', async () => {
      const pidFile = newPidFile();
      host = spawn(
        process.execPath,
        [fixture('spawning-host.mjs'), mode, 'startsEscapingDescendants', JSON.stringify({ pidFile })],
        { stdio: 'ignore' },
      );
      const hostPid = host.pid as number;
      const exited = once(host, 'exit');
      await untilInvoked(pidFile, 15_000);
      if (mode === 'cgroup') expect(threadCgroupsLeftBy(hostPid)).toHaveLength(1);
      // Longer than the sentinel watches a host whose pipe ended: it must still be there.
      await sleep(1_000);
      const watchers = sentinels(hostPid);
      expect(watchers).toHaveLength(1);
      host.kill('SIGKILL');
      await exited;
      // The sentinel notices within half a second, then becomes a reaper that kills the tree and ends.
      await expectOnlyDocumentedEscapes(mode, pidFile, 5_000);
      await waitGone(watchers, 5_000);
      await until(
        () => threadCgroupsLeftBy(hostPid).length === 0,
        'the dead host’s cgroups to be removed',
        5_000,
      );
    });
  },
);
