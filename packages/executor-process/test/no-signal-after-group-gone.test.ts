import type { KillFunction } from '@taskwarden/executor-process';
import { ProcessExecutor, ProcessExitedError } from '@taskwarden/executor-process';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, launch, PidLedger } from './helpers.js';

// Regression: once a child's group was known to be empty, the handle still signalled `-pgid` when a
// stop came in before it had finished draining the pipes; by then the id may belong to another group.
describe('no signal to a process group that is known to be gone', () => {
  let ledger: PidLedger;
  let executor: ProcessExecutor | undefined;

  afterEach(async () => {
    await executor?.close();
    executor = undefined;
    expect(ledger.cleanup()).toEqual([]);
  });

  it('kill() right after the group was found empty sends nothing to it', async () => {
    ledger = new PidLedger();
    const calls: Array<{ pid: number; signal: string; afterGone: boolean }> = [];
    let goneGroup: number | undefined;
    let execution: ReturnType<typeof launch> | undefined;
    const kill: KillFunction = (pid, signal = 'SIGTERM') => {
      calls.push({ pid, signal: String(signal), afterGone: goneGroup === -pid });
      try {
        return process.kill(pid, signal);
      } catch (error) {
        if (signal === 0 && (error as NodeJS.ErrnoException).code === 'ESRCH' && goneGroup === undefined) {
          // The executor has just learnt that the group is empty; a stop arrives right after.
          goneGroup = -pid;
          queueMicrotask(() => void execution?.kill?.().catch(() => undefined));
        }
        throw error;
      }
    };
    executor = new ProcessExecutor({ spawn: ledger.spawn, kill, killGraceMs: 200 });
    execution = launch(executor, {
      task: { executionId: 'e', jobId: 'job', allocationId: 'a', name: 'crash', attempt: 1 },
      invokable: { module: fixture('exit-mid-task.mjs') },
      input: { code: 3 },
    });
    const error = await execution.result.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProcessExitedError);
    expect(error).toMatchObject({ exitCode: 3 });
    expect(goneGroup).toBeDefined();
    expect(calls.filter((call) => call.afterGone && call.signal !== '0')).toEqual([]);
  });
});
