import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { ProcessExecutor, ProcessExitedError } from '@taskwarden/executor-process';
import { isGone, sleep, waitGone } from '@taskwarden/sdk/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, PidLedger, startRuntime, untilRecorded } from './helpers.js';

describe('ProcessExecutor hostLease: children end themselves when the host stops renewing', () => {
  let ledger: PidLedger;
  let host: ChildProcess | undefined;

  afterEach(async () => {
    if (host?.pid !== undefined && host.exitCode === null && host.signalCode === null) {
      const exited = new Promise((resolve) => host?.once('exit', resolve));
      host.kill('SIGKILL');
      await exited;
    }
    host = undefined;
    // On failure this SIGKILLs every recorded survivor (by pid and by group) before reporting it.
    expect(ledger.cleanup()).toEqual([]);
  });

  it('a SIGSTOPped host cannot renew: its CPU-bound child and grandchild are gone within the lease', async () => {
    ledger = new PidLedger();
    const pidFile = ledger.pidFile();
    // Generous: a host loaded by other work must not miss its own renewals.
    const leaseMs = 2_000;
    host = spawn(process.execPath, [fixture('lease-host.mjs'), pidFile, String(leaseMs)], {
      stdio: 'ignore',
      detached: true,
    });
    ledger.add(host.pid);
    await untilRecorded(ledger, pidFile, 'invoked', 15_000);
    const [child] = ledger.pidsOf(pidFile, 'child');
    const [grandchild] = ledger.pidsOf(pidFile, 'grandchild');
    // Renewed every leaseMs / 4, the lease holds for several periods.
    await sleep(leaseMs * 2);
    expect(isGone(child as number)).toBe(false);
    expect(isGone(grandchild as number)).toBe(false);

    const stoppedAt = Date.now();
    process.kill(host.pid as number, 'SIGSTOP');
    // Still stopped: nobody but the children themselves can end them.
    await waitGone([child as number, grandchild as number], leaseMs + 1_000);
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(leaseMs + 1_000);
    expect(isGone(host.pid as number)).toBe(false);
  });

  it('a child spawned while the lease has run out ends at once; the task fails with ProcessExitedError', async () => {
    ledger = new PidLedger();
    const executor = new ProcessExecutor({ hostLease: true, spawn: ledger.spawn, watchdogPollMs: 20 });
    const runtime = startRuntime(executor);
    const pidFile = ledger.pidFile();
    // Never renewed.
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'slot-0',
      invokable: { module: fixture('cpu-bound.mjs') },
      input: { pidFile },
    });
    const outcome = await task.done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProcessExitedError);
    expect((outcome.error as ProcessExitedError).signal).toBe('SIGKILL');
    await runtime.close();
    await waitGone(ledger.spawnedPids);
  });

  it('renewed in time, a child outlives many lease periods and is stopped only by its cancel', async () => {
    ledger = new PidLedger();
    const executor = new ProcessExecutor({ hostLease: true, spawn: ledger.spawn, watchdogPollMs: 20 });
    // Generous against a loaded machine: a late renewal timer must not end the child.
    executor.renewHostLease(2_000);
    const renewal = setInterval(() => executor.renewHostLease(2_000), 200);
    try {
      const runtime = startRuntime(executor);
      const pidFile = ledger.pidFile();
      const task = runtime.submit({
        jobId: 'job',
        allocationId: 'slot-0',
        invokable: { module: fixture('cpu-bound.mjs') },
        input: { pidFile },
      });
      await untilRecorded(ledger, pidFile, 'invoked', 15_000);
      await sleep(4_500);
      expect(task.state).toBe('RUNNING');
      task.cancel();
      expect((await task.done).state).toBe('CANCELED');
      await runtime.close();
      await waitGone(ledger.spawnedPids);
    } finally {
      clearInterval(renewal);
    }
  });

  it('renewHostLease refuses bad calls', () => {
    ledger = new PidLedger();
    expect(() => new ProcessExecutor().renewHostLease(100)).toThrow(TypeError);
    const executor = new ProcessExecutor({ hostLease: true });
    expect(() => executor.renewHostLease(Number.NaN)).toThrow(RangeError);
    expect(() => new ProcessExecutor({ hostLease: 'yes' as unknown as boolean })).toThrow(/hostLease/);
  });
});
