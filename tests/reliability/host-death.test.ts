/**
 * No orphans when the host dies (issue 9), with several children and grandchildren: a host process
 * (`fixtures/host.mjs`) runs a runtime with a ProcessExecutor (`maxProcesses: 3`) and three
 * CPU-bound tasks, each of which starts two SIGTERM-deaf grandchildren in its process group. The
 * test SIGKILLs the host and expects all nine processes (3 children + 6 grandchildren) gone within
 * 1.5 s: the children's main threads spin, so it is each child's watchdog thread (it polls the
 * parent pid) that must notice and SIGKILL its whole group. Repeated three times. Survivors are SIGKILLed by pid and by process group, never by name.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fixture, isGone, ProcessLedger, procInfo, sleep, tempDir, until } from './helpers.js';

const REPEAT = 3;
const DEADLINE_MS = 1_500;

interface PidEntry {
  role: 'host' | 'child' | 'grandchild' | 'invoked';
  pid: number;
  parent?: number;
}

function entries(file: string): PidEntry[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as PidEntry);
}

describe('host death: 3 CPU-bound children with 2 grandchildren each', () => {
  const timings: Array<{ lastGoneMs: number; firstGoneMs: number; hostExitMs: number }> = [];
  let ledger: ProcessLedger | undefined;
  let dir: ReturnType<typeof tempDir> | undefined;
  let host: ChildProcess | undefined;

  afterEach(async () => {
    if (host && host.exitCode === null && host.signalCode === null) host.kill('SIGKILL');
    host = undefined;
    // On failure this SIGKILLs every recorded survivor (by pid and by group) before reporting it.
    const survivors = ledger?.killSurvivors() ?? [];
    dir?.remove();
    ledger = undefined;
    dir = undefined;
    expect(survivors).toEqual([]);
  });

  afterAll(() => {
    console.log(
      `[host-death] ${timings
        .map(
          (t, i) =>
            `#${i + 1}: host exit seen after ${t.hostExitMs} ms, first process gone after ${t.firstGoneMs} ms, all 9 gone after ${t.lastGoneMs} ms`,
        )
        .join('; ')} (from the SIGKILL of the host)`,
    );
  });

  for (let round = 1; round <= REPEAT; round++) {
    it(`round ${round}: every child and grandchild dies within ${DEADLINE_MS} ms of the host's SIGKILL`, async () => {
      ledger = new ProcessLedger();
      dir = tempDir('host-death');
      const pidFile = join(dir.path, 'pids.jsonl');
      appendFileSync(pidFile, '');
      // Its own process group, so that nothing the test does to it can reach the test's group.
      const started = spawn(process.execPath, [fixture('host.mjs'), pidFile], {
        stdio: 'ignore',
        detached: true,
      });
      host = started;
      ledger.add(started.pid, { group: true });
      const exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));

      await until(
        () => entries(pidFile).filter((entry) => entry.role === 'invoked').length === 3,
        () => `three tasks to run: ${JSON.stringify(entries(pidFile))}`,
        20_000,
      );
      const recorded = entries(pidFile);
      const children = recorded.filter((entry) => entry.role === 'child').map((entry) => entry.pid);
      const grandchildren = recorded.filter((entry) => entry.role === 'grandchild');
      for (const pid of children) ledger.add(pid, { group: true });
      for (const entry of grandchildren) ledger.add(entry.pid);
      expect(children).toHaveLength(3);
      expect(grandchildren).toHaveLength(6);
      // The tree is what the test means: each child leads its group, its grandchildren are in it.
      for (const pid of children) {
        expect(procInfo(pid)).toMatchObject({ ppid: started.pid, pgid: pid });
        expect(isGone(pid)).toBe(false);
      }
      for (const entry of grandchildren) {
        expect(procInfo(entry.pid)).toMatchObject({ ppid: entry.parent, pgid: entry.parent });
        expect(isGone(entry.pid)).toBe(false);
      }
      const tree = [...children, ...grandchildren.map((entry) => entry.pid)];

      const killedAt = performance.now();
      started.kill('SIGKILL');
      let hostExitMs = Number.NaN;
      void exited.then(() => {
        hostExitMs = Math.round(performance.now() - killedAt);
      });
      let firstGoneMs: number | undefined;
      for (;;) {
        const alive = tree.filter((pid) => !isGone(pid));
        const elapsed = performance.now() - killedAt;
        if (alive.length < tree.length) firstGoneMs ??= Math.round(elapsed);
        if (alive.length === 0) break;
        if (elapsed > DEADLINE_MS) {
          throw new Error(
            `still alive ${Math.round(elapsed)} ms after the host's SIGKILL: ${alive
              .map((pid) => JSON.stringify(procInfo(pid)))
              .join(', ')}`,
          );
        }
        await sleep(2);
      }
      const lastGoneMs = Math.round(performance.now() - killedAt);
      await exited;
      timings.push({ lastGoneMs, firstGoneMs: firstGoneMs ?? lastGoneMs, hostExitMs });
      expect(ledger.survivors()).toEqual([]);
    }, 30_000);
  }
});
