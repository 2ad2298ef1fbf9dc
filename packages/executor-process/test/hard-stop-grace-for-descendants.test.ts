import { ProcessExecutor, ProcessExitedError } from '@taskwarden/executor-process';
import { TaskCancelledError } from '@taskwarden/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, isGone, launch, PidLedger, untilRecorded } from './helpers.js';

// Regression: the group was SIGKILLed as soon as its leader exited. Node's default SIGTERM handling
// ends the leader at once, so grandchildren went from SIGTERM straight to SIGKILL with no grace.
describe('hard stop: descendants get the SIGTERM grace period', () => {
  let ledger: PidLedger;
  let executor: ProcessExecutor | undefined;

  afterEach(async () => {
    await executor?.close();
    executor = undefined;
    expect(ledger.cleanup()).toEqual([]);
  });

  it('a grandchild that traps SIGTERM has time to clean up before the group is SIGKILLed', async () => {
    ledger = new PidLedger();
    executor = new ProcessExecutor({ spawn: ledger.spawn, killGraceMs: 1_500 });
    const pidFile = ledger.pidFile();
    const execution = launch(executor, {
      task: { executionId: 'e', jobId: 'job', allocationId: 'a', name: 'term', attempt: 1 },
      invokable: { module: fixture('sigterm-grandchild.mjs') },
      input: { pidFile },
    });
    await untilRecorded(ledger, pidFile, 'invoked');
    const [child] = ledger.pidsOf(pidFile, 'child');
    const [grandchild] = ledger.pidsOf(pidFile, 'grandchild');
    execution.cancel(new TaskCancelledError('e'));
    const settled = execution.result.catch((error: unknown) => error);
    await execution.kill?.();
    const error = await settled;
    expect(error).toBeInstanceOf(ProcessExitedError);
    // The leader died of the SIGTERM itself...
    expect(error).toMatchObject({ killed: true, signal: 'SIGTERM', pid: child });
    // ...and the grandchild got the SIGTERM and the time to finish its cleanup before the SIGKILL.
    const roles = ledger.entries(pidFile).map((entry) => entry.role);
    expect(roles).toContain('grandchild-sigterm');
    expect(roles).toContain('grandchild-cleaned-up');
    expect(isGone(child as number)).toBe(true);
    expect(isGone(grandchild as number)).toBe(true);
  });
});
