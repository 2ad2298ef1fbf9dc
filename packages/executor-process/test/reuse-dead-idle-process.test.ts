import type { KillFunction } from '@taskwarden/executor-process';
import { ProcessExecutor } from '@taskwarden/executor-process';
import type { TaskRuntime } from '@taskwarden/sdk';
import { until } from '@taskwarden/sdk/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, PidLedger, startRuntime } from './helpers.js';

// Regression: with `reuse`, an idle process that died on its own (or was killed for breaking the
// protocol while idle) stayed in the idle pool until its whole group was gone, and the next task
// was handed to it and failed. The kill seam holds back the signals to that group, which keeps the
// window between "the host knows it is dead" and "its group is gone" open as long as the test needs.
describe('reuse: an idle process that dies is never handed a task', () => {
  let ledger: PidLedger;
  let runtime: TaskRuntime | undefined;
  let executor: ProcessExecutor | undefined;
  /** Group whose signals the kill seam holds back; {@link release} delivers them. */
  let held: number | undefined;
  let heldSignals: Array<{ pid: number; signal: NodeJS.Signals | number }> = [];

  const kill: KillFunction = (pid, signal = 'SIGTERM') => {
    if (held !== undefined && pid === -held && signal !== 0) {
      heldSignals.push({ pid, signal });
      return true;
    }
    return process.kill(pid, signal);
  };

  function release(): void {
    held = undefined;
    for (const { pid, signal } of heldSignals.splice(0)) {
      try {
        process.kill(pid, signal);
      } catch {
        /* gone already */
      }
    }
  }

  afterEach(async () => {
    release();
    await runtime?.close();
    await executor?.close();
    expect(executor?.stats.processes).toBe(0);
    runtime = undefined;
    executor = undefined;
    expect(ledger.cleanup()).toEqual([]);
  });

  it.each([
    ['exits by itself', 'exit'],
    ['breaks the protocol while idle', 'garbage'],
  ])('an idle process that %s: the next task runs in a fresh process', async (_case, how) => {
    ledger = new PidLedger();
    heldSignals = [];
    executor = new ProcessExecutor({
      spawn: ledger.spawn,
      kill,
      reuse: true,
      maxProcesses: 2,
      killGraceMs: 200,
    });
    runtime = startRuntime(executor);
    const pidFile = ledger.pidFile();
    const first = await runtime.submit({
      jobId: 'job',
      allocationId: 'slot-0',
      invokable: { module: fixture('idle-misbehaver.mjs') },
      input: { pidFile, how, delayMs: 30 },
    }).done;
    expect(first.state).toBe('FINISHED');
    const firstPid = first.result as number;
    held = firstPid;
    // The host has seen the process die or misbehave: it is SIGKILLing the group (held back here).
    await until(
      () => heldSignals.some(({ signal }) => signal === 'SIGKILL'),
      'the host to give up on the idle process',
    );
    const safety = setTimeout(release, 5_000); // never leave the group alive, even if the task below hangs
    const second = await runtime.submit({
      jobId: 'job',
      allocationId: 'slot-0',
      invokable: { module: fixture('module-state.mjs') },
    }).done;
    clearTimeout(safety);
    release();
    expect(second.state).toBe('FINISHED');
    const { pid, calls } = second.result as { pid: number; calls: number };
    expect(pid).not.toBe(firstPid);
    expect(calls).toBe(1);
    await until(() => executor?.stats.processes === 1, 'the dead process group to be gone');
  });
});
