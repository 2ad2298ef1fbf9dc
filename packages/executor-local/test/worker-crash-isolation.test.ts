import { WorkerExitedError } from '@taskwarden/executor-local';
import { ErrorCode, ProtocolError, TaskwardenError } from '@taskwarden/sdk';
import { until } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { PATIENT, ref, startHarness } from './worker-harness.js';

describe('WorkerExecutor crash isolation', () => {
  it('an uncaught exception fails only its task with WorkerExitedError; the others go on', async () => {
    await using h = startHarness({ executor: { maxThreads: 2 } });
    const bystander = h.submit(ref('stubborn.mjs', 'finishesDespiteCancel'), undefined, {
      cancellation: PATIENT,
    });
    await until(() => bystander.state === 'RUNNING', 'the bystander to run');
    const crashed = await h.submit(ref('failures.mjs', 'uncaught')).done;
    expect(crashed.state).toBe('FAILED');
    expect(crashed.error).toBeInstanceOf(WorkerExitedError);
    expect(TaskwardenError.is(crashed.error)).toBe(true);
    expect(crashed.error).toMatchObject({ code: ErrorCode.WORKER_EXITED, exitCode: 1 });
    expect(crashed.error?.message).toContain('uncaught in a timer');
    expect((crashed.error as WorkerExitedError).cause).toMatchObject({ message: 'uncaught in a timer' });
    expect(bystander.state).toBe('RUNNING');
    bystander.cancel(); // it answers a cancel by finishing its work
    expect(await bystander.done).toMatchObject({
      state: 'FINISHED',
      result: 'finished after TASK_CANCELLED',
    });
    // The pool replaced the dead thread: two tasks run side by side again.
    const again = await Promise.all([
      h.submit(ref('invokables.mjs'), 1).done,
      h.submit(ref('invokables.mjs'), 2).done,
    ]);
    expect(again.map((outcome) => outcome.result)).toEqual([1, 2]);
    expect(h.executor.threadCount).toBeLessThanOrEqual(2);
  });

  it('a task offered to a thread that crashes goes to the next thread', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    const crashing = h.submit(ref('failures.mjs', 'uncaught'));
    // RUNNING, or already FAILED on a loaded machine (it crashes 5 ms in).
    await until(() => !['CREATED', 'DEPLOYING'].includes(crashing.state), 'the crashing task to run');
    const waiting = h.submit(ref('invokables.mjs'), 'survived');
    expect((await crashing.done).error).toBeInstanceOf(WorkerExitedError);
    expect(await waiting.done).toMatchObject({ state: 'FINISHED', result: 'survived' });
  });

  it('process.exit() inside the worker fails the task with its exit code', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    const exited = await h.submit(ref('failures.mjs', 'exits'), 7).done;
    expect(exited.state).toBe('FAILED');
    expect(exited.error).toBeInstanceOf(WorkerExitedError);
    expect((exited.error as WorkerExitedError).exitCode).toBe(7);
    expect(exited.error?.message).toContain('exited with code 7');
    expect(await h.submit(ref('invokables.mjs'), 'next').done).toMatchObject({
      state: 'FINISHED',
      result: 'next',
    });
  });

  it('a thread that exits right after returning keeps its result, and the next task is not blamed', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    const returning = h.submit(ref('failures.mjs', 'exitsAfterReturning'), 300);
    expect(await returning.done).toMatchObject({ state: 'FINISHED', result: 'returned' });
    // The thread looks idle now, and gets the next task; it dies without ever reading it.
    const next = h.submit(ref('invokables.mjs'), 'next');
    expect(await next.done).toMatchObject({ state: 'FINISHED', result: 'next' });
  });

  it('heap exhaustion under resourceLimits fails only that task', async () => {
    await using h = startHarness({
      executor: { maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 32 } },
    });
    const outcome = await h.submit(ref('failures.mjs', 'exhaustHeap')).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(WorkerExitedError);
    expect((outcome.error as WorkerExitedError).cause).toMatchObject({ code: 'ERR_WORKER_OUT_OF_MEMORY' });
    expect(await h.submit(ref('invokables.mjs'), 'recovered').done).toMatchObject({
      state: 'FINISHED',
      result: 'recovered',
    });
  });

  it('a thread that cannot even start fails its task instead of being restarted for ever', async () => {
    await using h = startHarness({
      executor: { maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 2, maxYoungGenerationSizeMb: 1 } },
    });
    const outcomes = await Promise.all([
      h.submit(ref('invokables.mjs'), 1).done,
      h.submit(ref('invokables.mjs'), 2).done,
    ]);
    for (const outcome of outcomes) {
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error).toBeInstanceOf(WorkerExitedError);
      expect((outcome.error as WorkerExitedError).cause).toMatchObject({ code: 'ERR_WORKER_OUT_OF_MEMORY' });
    }
  });

  it('a malformed message from a worker fails that task with ProtocolError; the pool goes on', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    // Every kind of garbage on the executor's channel: each fails its task with a ProtocolError that
    // names the thread (what exactly was wrong is the protocol's business, not the test's).
    for (const garbage of ['bogus', 'no-id', 'object', 'wrong-task']) {
      const outcome = await h.submit(ref('protocol-breaker.mjs', 'sendGarbage'), garbage).done;
      expect(outcome.state, garbage).toBe('FAILED');
      expect(outcome.error, garbage).toBeInstanceOf(ProtocolError);
      expect(outcome.error?.message, garbage).toMatch(/^worker thread \d+ sent /);
    }
    expect(await h.submit(ref('invokables.mjs'), 'fine').done).toMatchObject({
      state: 'FINISHED',
      result: 'fine',
    });
  });
});
