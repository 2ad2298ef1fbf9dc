import { ErrorCode, ProtocolError } from '@taskwarden/sdk';
import { sleep, until } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { PATIENT, ref, startHarness } from './worker-harness.js';

describe("WorkerExecutor: a task that closes the executor's channel (workerData.port)", () => {
  it('fails with ProtocolError; the thread is replaced and the other tasks go on', async () => {
    await using h = startHarness({ executor: { maxThreads: 2 } });
    const bystander = h.submit(ref('stubborn.mjs', 'finishesDespiteCancel'), undefined, {
      cancellation: PATIENT,
    });
    await until(() => bystander.state === 'RUNNING', 'the bystander to run');
    const closing = h.submit(ref('close-channel.mjs', 'closesThenReturns'), 50);
    const outcome = await closing.done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProtocolError);
    expect(outcome.error).toMatchObject({ code: ErrorCode.PROTOCOL_ERROR });
    expect(outcome.error?.message).toMatch(/worker thread \d+ closed its channel/);
    expect(outcome.error?.message).toContain(closing.executionId);
    expect(h.path(closing.name).slice(-2)).toEqual(['RUNNING', 'FAILED']);
    // The task settles once its thread has exited: only the bystander's thread is left.
    expect(h.executor.stats).toMatchObject({ threads: 1, busy: 1, exiting: 0 });
    expect(bystander.state).toBe('RUNNING');
    const again = await Promise.all([
      h.submit(ref('invokables.mjs'), 1).done,
      h.submit(ref('invokables.mjs'), 2).done,
    ]);
    expect(again.map((next) => next.state)).toEqual(['FINISHED', 'FINISHED']);
    bystander.cancel();
    expect(await bystander.done).toMatchObject({
      state: 'FINISHED',
      result: 'finished after TASK_CANCELLED',
    });
    expect(h.executor.threadCount).toBeLessThanOrEqual(2);
  });

  it('returning at once with a task waiting: the waiting task runs on the replacement thread', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    const closing = h.submit(ref('close-channel.mjs', 'closesThenReturns'), 0);
    const waiting = h.submit(ref('invokables.mjs'), 'waited');
    const outcome = await closing.done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProtocolError);
    expect(outcome.error?.message).toMatch(/closed its channel/);
    // It was offered to the broken thread, which did not take it: it waits for the next thread.
    expect(await waiting.done).toMatchObject({ state: 'FINISHED', result: 'waited' });
    expect(await h.submit(ref('invokables.mjs'), 'after').done).toMatchObject({
      state: 'FINISHED',
      result: 'after',
    });
  });

  it('closed unseen by the runner with a task waiting: neither task hangs', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    const closing = h.submit(ref('close-channel.mjs', 'closesUnseenThenReturns'));
    const waiting = h.submit(ref('invokables.mjs'), 'waited');
    const outcome = await closing.done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProtocolError);
    expect(outcome.error?.message).toMatch(/closed its channel/);
    // If the broken thread took the waiting task, that task ran where its outcome was lost: it
    // fails with the thread (it may have run, so it is not run again); if not, it runs elsewhere.
    const next = await waiting.done;
    if (next.state === 'FAILED') expect(next.error).toBeInstanceOf(ProtocolError);
    else expect(next).toMatchObject({ state: 'FINISHED', result: 'waited' });
    expect(await h.submit(ref('invokables.mjs'), 'after').done).toMatchObject({
      state: 'FINISHED',
      result: 'after',
    });
  });

  it('is noticed by the host alone when the runner cannot hear the close', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    const outcome = await h.submit(ref('close-channel.mjs', 'closesQuietly')).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProtocolError);
    expect(outcome.error?.message).toMatch(/closed its channel/);
    expect(await h.submit(ref('invokables.mjs'), 'next').done).toMatchObject({
      state: 'FINISHED',
      result: 'next',
    });
  });

  it('closed while the thread idles: the thread is retired and the next task does not hang', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    expect(await h.submit(ref('close-channel.mjs', 'closesWhenIdle'), 20).done).toMatchObject({
      state: 'FINISHED',
      result: 'returned',
    });
    await until(() => h.executor.threadCount === 0, 'the idle thread with a closed channel to be retired');
    await sleep(10);
    expect(await h.submit(ref('invokables.mjs'), 'next').done).toMatchObject({
      state: 'FINISHED',
      result: 'next',
    });
  });
});
