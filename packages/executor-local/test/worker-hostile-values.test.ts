import { WorkerExitedError } from '@taskwarden/executor-local';
import { ErrorCode, NonErrorThrownError, SerializationError } from '@taskwarden/sdk';
import { captureLogger, launchDirectly } from '@taskwarden/sdk/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostileName } from './fixtures/hostile.mjs';
import { hostileProxy, values } from './fixtures/hostile.mjs';
import { ref, startHarness } from './worker-harness.js';

/** Issue 14.4: hostile values thrown, returned, logged and given as cancel reasons by worker tasks. */
const names = Object.keys(values) as HostileName[];
/** Values that are not Errors: they end a task as NonErrorThrownError. */
const nonErrors = new Set<string>([
  'null',
  'undefined',
  'symbol',
  'bigint',
  'proxy',
  'proxiedError',
  'circular',
  'nullPrototypeWithThrowingToJSON',
]);

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  // Nothing in the host was left to reject unhandled by any of it.
  expect(unhandled).toEqual([]);
});

/** A typed error: a real Error whose name and message read as strings. */
function expectTyped(error: unknown): void {
  expect(error).toBeInstanceOf(Error);
  expect(typeof (error as Error).name).toBe('string');
  expect(typeof (error as Error).message).toBe('string');
}

describe('WorkerExecutor: hostile values (issue 14.4)', () => {
  it('a task that throws or rejects with any value fails with a typed error, on the same thread', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    for (const how of ['throws', 'rejects'] as const) {
      for (const name of names) {
        const outcome = await h.submit(ref('hostile.mjs', how), name).done;
        expect(outcome.state, `${how} ${name}`).toBe('FAILED');
        expectTyped(outcome.error);
        if (nonErrors.has(name)) {
          expect(outcome.error, `${how} ${name}`).toBeInstanceOf(NonErrorThrownError);
          expect(outcome.error).toMatchObject({ code: ErrorCode.NON_ERROR_THROWN });
        }
      }
    }
    // The runner survived all of it: the thread that served them serves the next task.
    expect(h.executor.stats).toMatchObject({ threads: 1 });
    expect(await h.submit(ref('invokables.mjs'), 'next').done).toMatchObject({
      state: 'FINISHED',
      result: 'next',
    });
    expect(h.executor.stats).toMatchObject({ threads: 1 });
  });

  it('a task that returns any value finishes with its copy, or fails with a typed error', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    const outcomes = new Map<string, Awaited<ReturnType<typeof h.submit>['done']>>();
    for (const name of names) outcomes.set(name, await h.submit(ref('hostile.mjs', 'returns'), name).done);
    expect(outcomes.get('null')).toMatchObject({ state: 'FINISHED', result: null });
    expect(outcomes.get('undefined')).toMatchObject({ state: 'FINISHED', result: undefined });
    expect(outcomes.get('bigint')).toMatchObject({ state: 'FINISHED', result: 10n ** 30n });
    const loop = outcomes.get('circular')?.result as { self: unknown };
    expect(loop.self).toBe(loop);
    for (const name of ['symbol', 'errorWithThrowingMessage', 'nullPrototypeWithThrowingToJSON']) {
      const outcome = outcomes.get(name);
      expect(outcome?.state, name).toBe('FAILED');
      expect(outcome?.error, name).toBeInstanceOf(SerializationError);
      expect(outcome?.error).toMatchObject({ code: ErrorCode.SERIALIZATION_FAILED, what: 'result' });
    }
    // A Proxy whose traps throw cannot even be awaited (its `then` is read): that is the task's error.
    for (const name of ['proxy', 'proxiedError']) {
      expect(outcomes.get(name)?.state, name).toBe('FAILED');
      expectTyped(outcomes.get(name)?.error);
    }
    expect(await h.submit(ref('invokables.mjs'), 'next').done).toMatchObject({
      state: 'FINISHED',
      result: 'next',
    });
    expect(h.executor.stats).toMatchObject({ threads: 1 });
  });

  it('logging any value through ctx.logger never throws into the task; the records reach the host', async () => {
    const { logger, lines } = captureLogger('info');
    await using h = startHarness({ executor: { maxThreads: 1 }, logger });
    const task = h.submit(ref('hostile.mjs', 'logs'), undefined, { executionId: 'hostile-logs' });
    // The task counts the logger calls that threw.
    expect(await task.done).toMatchObject({ state: 'FINISHED', result: 0 });
    const fromTask = lines.filter(
      (line) => line.executionId === 'hostile-logs' && line.msg !== 'task state changed',
    );
    // Seven calls per value, then one more; none was lost.
    expect(fromTask).toHaveLength(names.length * 7 + 1);
    expect(fromTask.at(-1)).toMatchObject({ msg: 'still logging' });
  });

  it('a task that leaves a hostile rejection unhandled or throws one uncaught fails with WorkerExitedError', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    for (const how of ['leavesUnhandledRejection', 'throwsUncaught'] as const) {
      for (const name of ['symbol', 'proxy', 'errorWithThrowingMessage', 'nullPrototypeWithThrowingToJSON']) {
        const outcome = await h.submit(ref('hostile.mjs', how), name).done;
        expect(outcome.state, `${how} ${name}`).toBe('FAILED');
        expect(outcome.error, `${how} ${name}`).toBeInstanceOf(WorkerExitedError);
        expectTyped(outcome.error);
      }
    }
    expect(await h.submit(ref('invokables.mjs'), 'next').done).toMatchObject({
      state: 'FINISHED',
      result: 'next',
    });
  });

  it('a cancel reason of any shape reaches the task as a typed error, and the task ends', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    const reasons: unknown[] = [
      null,
      undefined,
      Symbol('reason'),
      10n,
      hostileProxy(),
      hostileProxy(new Error('proxied')),
      values.errorWithThrowingMessage(),
      values.circular(),
      values.nullPrototypeWithThrowingToJSON(),
      'a string',
    ];
    for (const reason of reasons) {
      const run = launchDirectly(h.executor, { invokable: ref('hostile.mjs', 'rejectsWithAbortReason') });
      await run.running;
      run.execution.cancel(reason as Error);
      const outcome = await run.outcome;
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) expectTyped(outcome.error);
    }
    expect(await h.submit(ref('invokables.mjs'), 'next').done).toMatchObject({
      state: 'FINISHED',
      result: 'next',
    });
    expect(h.executor.stats).toMatchObject({ threads: 1 });
  });
});
