import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownCgroupDir as findOwnCgroupDir, removeCgroup } from '@taskwarden/sdk/internal';
import { isGone, tempDir, until, waitGone } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import {
  killsOnExit,
  readPid,
  readPids,
  ref,
  startHarness,
  TIMINGS,
  threadCgroupsLeftBy,
  treeKillModesHere,
} from './worker-harness.js';

// Regression (issue 14.8, 'cgroup' mode): Node's spawn returns the pid once the process has
// started its program, so a process moved into the thread's cgroup afterwards may already have
// forked a daemon outside of it; one with an empty environment in a session of its own is then
// found by nothing (and a `*Sync` child cannot be moved at all before it has exited). Each spawn
// must join the cgroup before it runs anything.

const HARD_AT_ONCE = { ...TIMINGS, gracePeriodMs: 0 };

function ownCgroupDir(): string | undefined {
  const own = findOwnCgroupDir();
  return 'dir' in own ? own.dir : undefined;
}

/** The cgroups a `ProcessExecutor` of this process made (`taskwarden-<pid>-<executor>-<n>`). */
function processExecutorCgroups(): string[] {
  const dir = ownCgroupDir();
  if (dir === undefined) return [];
  return readdirSync(dir).filter(
    (name) => name.startsWith(`taskwarden-${process.pid}-`) && !name.includes('-worker-'),
  );
}

/** The cgroup v2 path of process `pid` (the `0::` line). */
function cgroupOf(pid: number): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('0::'));
  return (line ?? '').slice(3);
}

describe.runIf(treeKillModesHere()[0] === 'cgroup')(
  'a spawn joins its thread’s cgroup before it runs',
  () => {
    it.each([
      ['execFileSync', true],
      ['spawn', false],
    ])(
      'a daemon (empty environment, own session) forked at once by a %s child dies with the hard stop',
      async (_how, sync) => {
        using dir = tempDir('joins-before-it-runs');
        const pidFile = dir.file('daemon.pid');
        let daemon: number | undefined;
        try {
          await using h = startHarness({ executor: { maxThreads: 1, treeKill: 'cgroup' } });
          const task = h.submit(
            ref('spawns.mjs', 'daemonizesAtOnce'),
            { pidFile, sync },
            { cancellation: HARD_AT_ONCE },
          );
          await until(() => readPid(pidFile) !== undefined, 'the daemon to start');
          daemon = readPid(pidFile) as number;
          const [thread] = threadCgroupsLeftBy(process.pid);
          expect(cgroupOf(daemon)).toMatch(new RegExp(`/${thread}$`));
          task.cancel();
          expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
          expect(isGone(daemon)).toBe(true);
        } finally {
          if (daemon !== undefined && !isGone(daemon)) process.kill(daemon, 'SIGKILL');
          if (daemon !== undefined) await waitGone([daemon]);
        }
        expect(threadCgroupsLeftBy(process.pid)).toEqual([]);
      },
    );

    it('a spawn that cannot join before it runs (its own argv0) is found by its cookie: the hard stop still kills it and what it started', async () => {
      using dir = tempDir('cannot-join');
      const pidFile = dir.file('pids');
      const pids = () => readPids(pidFile);
      {
        await using h = startHarness({ executor: { maxThreads: 1, treeKill: 'cgroup' } });
        // Disposed before the harness: should the shell have escaped, its thread would never exit,
        // and closing the runtime would wait for it for ever.
        using _escaped = killsOnExit(pids);
        const task = h.submit(ref('spawns.mjs', 'blocksWithOwnArgv0'), pidFile, {
          cancellation: HARD_AT_ONCE,
        });
        await until(() => pids().length === 2, 'the shell and its daemon to start');
        task.cancel();
        // Without the cookie search the blocked shell would never die, nor its thread, nor the task.
        expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
        expect(pids().filter((pid) => !isGone(pid))).toEqual([]);
      }
      await waitGone(pids());
      expect(threadCgroupsLeftBy(process.pid)).toEqual([]);
    });

    it('what a worker task’s own ProcessExecutor started in a cgroup of its own is found by the cookie once the thread is gone', async () => {
      using dir = tempDir('nested-executor');
      const pidFile = dir.file('pids');
      const pids = () => readPids(pidFile);
      const before = new Set(processExecutorCgroups());
      {
        await using h = startHarness({ executor: { maxThreads: 1, treeKill: 'cgroup' } });
        using _escaped = killsOnExit(pids);
        const task = h.submit(ref('spawns.mjs', 'runsAProcessExecutor'), pidFile, {
          cancellation: HARD_AT_ONCE,
        });
        await until(() => pids().length === 2, 'the nested executor’s child and its daemon to run', 15_000);
        const [child, daemon] = pids() as [number, number];
        // The nested executor moved its child (and so the daemon) out of the thread's cgroup.
        const [thread] = threadCgroupsLeftBy(process.pid);
        expect(cgroupOf(daemon)).not.toMatch(new RegExp(`/${thread}$`));
        task.cancel();
        expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
        // The child was a spawn of the thread (its group is killed); the daemon left that group and
        // session, but carries the thread's cookie.
        expect([child, daemon].filter((pid) => !isGone(pid))).toEqual([]);
      }
      await waitGone(pids());
      // The nested executor's own (empty) cgroup has no owner left to remove it while this process
      // lives (see the README): the test removes it.
      for (const name of processExecutorCgroups().filter((name) => !before.has(name))) {
        expect(removeCgroup(join(ownCgroupDir() as string, name))).toBe(true);
      }
    });
  },
);
