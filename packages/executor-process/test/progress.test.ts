import type { DirectLaunch } from '@taskwarden/sdk/testing';
import { launchDirectly, sleep } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { executorHarness, fixture, startRuntime, untilRecorded } from './helpers.js';

// Issue 18: `ctx.reportProgress(value)` in a child reaches `spec.report.progress` in the host,
// coalesced when reported faster than it can be delivered (the latest wins), the last report
// always before the outcome.

const progress = fixture('progress.mjs');

/** Where the last progress report is, and where the outcome is, in the order they were reported. */
function order(run: DirectLaunch): { lastProgress: number; outcome: number } {
  const kinds = run.reports.map((report) => report.kind);
  return {
    lastProgress: kinds.lastIndexOf('progress'),
    outcome: kinds.findIndex((kind) => kind === 'finished' || kind === 'failed'),
  };
}

/** Blocks this thread (so the host reads nothing from its children) for `ms`. */
function blockHost(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('progress from a child process', () => {
  it('reaches spec.report.progress in order, the last report before the outcome', async () => {
    await using harness = executorHarness();
    const run = launchDirectly(harness.executor, {
      invokable: { module: progress },
      input: { how: 'steps' },
    });
    expect(await run.result).toBe('done');
    expect(run.progress).toEqual([0.25, 0.5, 1]);
    const { lastProgress, outcome } = order(run);
    expect(lastProgress).toBeLessThan(outcome);
  });

  it('carries any cloneable value', async () => {
    await using harness = executorHarness();
    const run = launchDirectly(harness.executor, {
      invokable: { module: progress },
      input: { how: 'object' },
    });
    expect(await run.result).toBe('done');
    expect(run.progress).toEqual([{ stage: 'resize', done: 3, of: 10, at: new Date(0) }]);
  });

  it('coalesces reports made faster than they are delivered; the latest arrives, before the outcome', async () => {
    const count = 50_000;
    await using harness = executorHarness();
    const { ledger, executor } = harness;
    const pidFile = ledger.pidFile();
    const run = launchDirectly(executor, {
      invokable: { module: progress },
      input: { how: 'burst', count, afterMs: 100, pidFile },
    });
    await untilRecorded(ledger, pidFile, 'invoked');
    // The host reads nothing while the child reports: the pipe fills, and the child keeps only the
    // latest report until the pipe takes one again.
    blockHost(1_500);
    expect(await run.result).toBe('done');
    expect(run.progress.length).toBeGreaterThan(0);
    expect(run.progress.length).toBeLessThan(count);
    expect(run.progress.at(-1)).toBe(1);
    const { lastProgress, outcome } = order(run);
    expect(lastProgress).toBeLessThan(outcome);
  });

  it('refuses an uncloneable value in the child with a SerializationError thrown from reportProgress', async () => {
    await using harness = executorHarness();
    const run = launchDirectly(harness.executor, {
      invokable: { module: progress },
      input: { how: 'uncloneable' },
    });
    expect(await run.result).toEqual({
      name: 'SerializationError',
      code: 'SERIALIZATION_FAILED',
      what: 'message',
    });
    expect(run.progress).toEqual([]);
  });

  it('drops a report made after the outcome; the process serves the next task undisturbed', async () => {
    await using harness = executorHarness({ reuse: true });
    const reusing = harness.executor;
    const late = launchDirectly(reusing, { invokable: { module: progress }, input: { how: 'late' } });
    expect(await late.result).toBe('done');
    await sleep(60);
    const next = launchDirectly(reusing, { invokable: { module: progress }, input: { how: 'steps' } });
    expect(await next.result).toBe('done');
    expect(late.reports.filter((report) => report.kind === 'progress')).toEqual([]);
    expect(next.progress).toEqual([0.25, 0.5, 1]);
    expect(reusing.stats.spawned).toBe(1);
  });

  it('sets task.progress and emits taskProgress through the runtime', async () => {
    await using harness = executorHarness();
    const runtime = startRuntime(harness.executor);
    const events: unknown[] = [];
    runtime.events.on('taskProgress', ({ progress: value }) => events.push(value));
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'slot-0',
      invokable: { module: progress },
      input: { how: 'steps' },
    });
    expect(await task.done).toMatchObject({ state: 'FINISHED', result: 'done' });
    expect(task.progress).toBe(1);
    expect(events).toEqual([0.25, 0.5, 1]);
    await runtime.close();
  });
});
