// Issue 14.4: no value from user code — thrown, returned, passed to fail(), rejected by a hook, thrown by
// a listener, or logged — can stop a task from ending, cause an unhandled rejection, or make the
// runtime fatal. Every value of hostileValues() through every door, with a logger at trace level so
// every serializer runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationContext } from '../src/index.js';
import { callCancelHook } from '../src/internal/index.js';
import { captureLogger, hostileValues } from '../src/testing/index.js';
import { testRuntime } from './helpers.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** A runtime whose logger runs every serializer (trace level) and whose listeners see every transition. */
function loud() {
  const { logger, lines } = captureLogger('trace');
  const t = testRuntime({ hardStop: true }, { logger });
  return { ...t, lines };
}

async function noUnhandledRejection(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  expect(unhandled).toEqual([]);
}

describe.each(hostileValues())('$name', ({ make }) => {
  it('thrown by the work: FAILED with an Error, done resolves, the runtime serves on', async () => {
    const t = loud();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    execution.throw(make());
    const outcome = await task.done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(Error);
    expect(t.runtime.health).toBe('running');
    expect(t.runtime.slotTable.getTasks('slot')).toEqual([]);
    const next = t.submit();
    (await t.executor.nextLaunch(1)).finish('ok');
    expect(await next.done).toMatchObject({ state: 'FINISHED', result: 'ok' });
    await noUnhandledRejection();
  });

  it('thrown by the work after a cancel: CANCELED, the value kept as a diagnostic Error', async () => {
    const t = loud();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    execution.throw(make());
    const outcome = await task.done;
    expect(outcome.state).toBe('CANCELED');
    expect(outcome.error).toBeInstanceOf(Error);
    expect(t.scheduler.pendingCount).toBe(0);
    await noUnhandledRejection();
  });

  it('returned by the work: FINISHED with that very value', async () => {
    const t = loud();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    const value = make();
    execution.finish(value);
    const outcome = await task.done;
    expect(outcome.state).toBe('FINISHED');
    if (outcome.state === 'FINISHED') expect(outcome.result === value).toBe(true);
    await noUnhandledRejection();
  });

  it('passed to task.fail(): FAILED with an Error, the runtime stays healthy', async () => {
    const t = loud();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    expect(() => task.fail(make())).not.toThrow();
    expect(task.state).toBe('FAILED');
    execution.throw(new Error('stopped'));
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'FAILED', abandoned: false });
    expect(outcome.error).toBeInstanceOf(Error);
    expect(t.runtime.health).toBe('running');
    expect(t.fatal.errors).toEqual([]);
    await noUnhandledRejection();
  });

  it('thrown by a taskStateChanged listener: logged, the task still ends', async () => {
    const t = loud();
    t.runtime.events.on('taskStateChanged', () => {
      throw make();
    });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    execution.finish(1);
    expect(await task.done).toMatchObject({ state: 'FINISHED', result: 1 });
    expect(
      t.lines.some(
        (line) => line.msg === 'an event listener threw' || line.msg?.includes('could not be logged'),
      ),
    ).toBe(true);
    await noUnhandledRejection();
  });

  it('rejected or thrown by an invokable cancel() hook: logged, never propagated', async () => {
    const { logger, lines } = captureLogger('trace');
    const context = { logger } as unknown as InvocationContext;
    expect(() =>
      callCancelHook(
        {
          invoke: () => undefined,
          cancel: () => {
            throw make();
          },
        },
        context,
      ),
    ).not.toThrow();
    callCancelHook({ invoke: () => undefined, cancel: () => Promise.reject(make()) }, context);
    await noUnhandledRejection();
    expect(lines.filter((line) => line.level === 40)).toHaveLength(2);
  });
});
