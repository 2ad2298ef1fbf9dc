// BaseExecution reports each fact once through spec.report and offers the same facts as promises
// made on first read (kept in one object made on demand): read before or after the outcome, they
// settle the same way; an unread `started` rejection is never unhandled.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ExecutionReporter, LaunchSpec } from '../interfaces/executor.js';
import { BaseExecution } from './base-execution.js';

class TestExecution extends BaseExecution {
  readonly cancels: Error[] = [];
  throwOnCancel = false;

  protected onCancel(reason: Error): void {
    this.cancels.push(reason);
    if (this.throwOnCancel) throw new Error('cancel hook broke');
  }
}

function launch(): { execution: TestExecution; reports: string[] } {
  const reports: string[] = [];
  const report: ExecutionReporter = {
    attach: () => reports.push('attach'),
    started: () => reports.push('started'),
    running: () => reports.push('running'),
    progress: (value) => reports.push(`progress ${String(value)}`),
    finished: (value) => reports.push(`finished ${String(value)}`),
    failed: (error) => reports.push(`failed ${(error as Error).message}`),
  };
  const spec: LaunchSpec = {
    task: { executionId: 'e', jobId: 'j', allocationId: 'a', name: 'n', attempt: 1 },
    invokable: () => undefined,
    input: undefined,
    logger: pino({ level: 'silent' }),
    cancellation: { interruptIntervalMs: 1, gracePeriodMs: 1, timeoutMs: 2 },
    report,
  };
  return { execution: new TestExecution(spec), reports };
}

/** How `promise` stands once pending reactions have run. */
async function state(promise: Promise<unknown>): Promise<string> {
  let seen = 'pending';
  promise.then(
    (value) => {
      seen = `resolved ${String(value)}`;
    },
    (error: Error) => {
      seen = `rejected ${error.message}`;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return seen;
}

describe('BaseExecution', () => {
  it('reports each fact once, the first outcome wins, and nothing is reported after it', () => {
    const { execution, reports } = launch();
    execution.markStarted();
    execution.markStarted();
    execution.markRunning();
    execution.reportProgress(0.5);
    execution.resolve(1);
    execution.reject(new Error('late'));
    execution.resolve(2);
    execution.markRunning();
    execution.reportProgress(1);
    expect(reports).toEqual(['attach', 'started', 'running', 'progress 0.5', 'finished 1']);
    expect(execution.settled).toBe(true);
  });

  it('settles started and result read before the outcome', async () => {
    const ok = launch().execution;
    const started = ok.started;
    const result = ok.result;
    expect(await state(started)).toBe('pending');
    ok.markRunning();
    expect(await state(started)).toBe('resolved undefined');
    expect(await state(result)).toBe('pending');
    ok.resolve('value');
    expect(await state(result)).toBe('resolved value');

    const failedEarly = launch().execution;
    const early = failedEarly.started;
    const earlyResult = failedEarly.result;
    failedEarly.reject(new Error('no module'));
    // Whoever reads `result` handles it: both are followed in the same turn.
    expect(await Promise.all([state(early), state(earlyResult)])).toEqual([
      'rejected no module',
      'rejected no module',
    ]);
  });

  it('settles started and result the same way when first read after the outcome', async () => {
    const ok = launch().execution;
    ok.resolve('value');
    expect(await state(ok.started)).toBe('resolved undefined');
    expect(await state(ok.result)).toBe('resolved value');

    const failedEarly = launch().execution;
    failedEarly.reject(new Error('no module'));
    expect(await state(failedEarly.started)).toBe('rejected no module');
    expect(await state(failedEarly.result)).toBe('rejected no module');

    const failedLate = launch().execution;
    failedLate.markRunning();
    failedLate.reject(new Error('threw'));
    expect(await state(failedLate.started)).toBe('resolved undefined');
    expect(await state(failedLate.result)).toBe('rejected threw');
    // The same promise every time.
    expect(failedLate.result).toBe(failedLate.result);
    expect(failedLate.started).toBe(failedLate.started);
  });

  it('never leaves an unread started rejection unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { execution } = launch();
      void execution.started;
      execution.reject(new Error('nobody reads started'));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('runs onCancel once, never after the outcome, and survives a hook that throws', () => {
    const { execution } = launch();
    execution.throwOnCancel = true;
    const reason = new Error('stop');
    expect(() => execution.cancel(reason)).not.toThrow();
    execution.cancel(new Error('again'));
    expect(execution.cancels).toEqual([reason]);
    expect(execution.cancelReason).toBe(reason);

    const done = launch().execution;
    done.resolve(1);
    done.cancel(new Error('too late'));
    expect(done.cancels).toEqual([]);
  });
});
