import { WorkerExecutor } from '@taskwarden/executor-local';
import type { DirectReport } from '@taskwarden/sdk/testing';
import { launchDirectly } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { ref, startHarness, threadsEnded } from './worker-harness.js';

/** A WorkerExecutor for tests that launch directly; closed (and its threads checked) on dispose. */
function directExecutor(): WorkerExecutor & AsyncDisposable {
  const executor = new WorkerExecutor({ maxThreads: 1 });
  return Object.assign(executor, {
    [Symbol.asyncDispose]: async () => {
      await executor.close();
      expect(executor.threadCount).toBe(0);
      await threadsEnded();
    },
  });
}

/** The kinds of reports after `attach`, progress values included. */
function sequence(reports: readonly DirectReport[]): unknown[] {
  return reports
    .filter((report) => report.kind !== 'attach')
    .map((report) => (report.kind === 'progress' ? ['progress', report.value] : report.kind));
}

describe('WorkerExecutor: ctx.reportProgress (issue 18)', () => {
  it('reaches the task on the host: task.progress and taskProgress events, in order', async () => {
    await using h = startHarness();
    const events: unknown[] = [];
    h.runtime.events.on('taskProgress', ({ progress }) => events.push(progress));
    const task = h.submit(ref('progress.mjs', 'reportsInSteps'), [0.25, 0.5, { stage: 'done' }]);
    expect(await task.done).toMatchObject({ state: 'FINISHED', result: 'reported' });
    expect(events).toEqual([0.25, 0.5, { stage: 'done' }]);
    expect(task.progress).toEqual({ stage: 'done' });
  });

  it('coalesces reports made faster than they are delivered; the last one arrives before the outcome', async () => {
    await using executor = directExecutor();
    const run = launchDirectly(executor, {
      invokable: ref('progress.mjs', 'reportsInATightLoop'),
      input: 10_000,
    });
    expect(await run.result).toBe('looped');
    // The thread never turned its event loop, so the first report was never acknowledged: only it
    // and the latest went out, one at a time.
    expect(sequence(run.reports)).toEqual(['running', ['progress', 1], ['progress', 10_000], 'finished']);
  });

  it('a report is a copy of the value when it was made, also when it waits for the one in flight', async () => {
    await using executor = directExecutor();
    const run = launchDirectly(executor, { invokable: ref('progress.mjs', 'reportsThenMutates') });
    expect(await run.result).toBe('mutated');
    expect(run.progress).toEqual([{ first: true }, { done: 1 }]);
  });

  it('an uncopyable value throws a SerializationError from reportProgress; the task goes on', async () => {
    await using executor = directExecutor();
    const run = launchDirectly(executor, { invokable: ref('progress.mjs', 'reportsUncopyable') });
    const refused = {
      isSerializationError: true,
      code: 'SERIALIZATION_FAILED',
      what: 'message',
      message: expect.stringContaining('the progress value cannot be copied'),
    };
    expect(await run.result).toEqual([refused, 'accepted', refused, 'accepted']);
    expect(run.progress).toEqual([0.5, 0.75]);
  });
});
