// The default ladder on fake time: canceler, interrupter, hard stop, watchdog.
import { describe, expect, it } from 'vitest';
import {
  CancellationTimeoutError,
  DIAGNOSE_TIMEOUT_MS,
  RuntimeFatalError,
  type TaskStuckEvent,
} from '../src/index.js';
import { captureLogger, settle, TIMINGS, testRuntime } from './helpers.js';

const { interruptIntervalMs, gracePeriodMs, timeoutMs } = TIMINGS;

describe('cancellation ladder', () => {
  it('arms canceler, interrupter, hard stop in order; the hard stop ends the work CANCELED', async () => {
    const { logger, lines } = captureLogger('warn');
    const t = testRuntime(
      { hardStop: true, diagnostics: true, diagnosis: 'at spin (busy.js:3:5)' },
      { logger },
    );
    const stuck: TaskStuckEvent[] = [];
    t.runtime.events.on('taskStuck', (event) => stuck.push(event));
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();

    task.cancel();
    expect(execution.cancelCalls).toHaveLength(1); // canceler: at once
    expect(execution.interruptCalls).toBe(0);

    await t.scheduler.advanceAsync(interruptIntervalMs - 1);
    expect(execution.interruptCalls).toBe(0);
    await t.scheduler.advanceAsync(1);
    expect(execution.interruptCalls).toBe(1);
    expect(stuck).toHaveLength(1);
    expect(stuck[0]).toMatchObject({
      task,
      elapsedMs: interruptIntervalMs,
      diagnostics: 'at spin (busy.js:3:5)',
    });
    const warning = lines.find((line) => line.msg?.startsWith('task did not react to cancelling'));
    expect(warning?.msg).toBe(
      `task did not react to cancelling for ${interruptIntervalMs} ms; stuck in: at spin (busy.js:3:5)`,
    );
    expect(warning?.level).toBe(40);

    // The interrupter repeats until the hard stop.
    await t.scheduler.advanceAsync(gracePeriodMs - interruptIntervalMs - 1);
    expect(execution.interruptCalls).toBe(4);
    expect(execution.killCalls).toBe(0);
    await t.scheduler.advanceAsync(1);
    expect(execution.killCalls).toBe(1);

    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
    expect(t.fatal.errors).toHaveLength(0);
    expect(t.scheduler.pendingCount).toBe(0);
    expect(t.runtime.health).toBe('running');
  });

  it('never hard-stops an executor without the capability; the watchdog escalates at timeoutMs', async () => {
    const t = testRuntime({ hardStop: false });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();

    await t.scheduler.advanceAsync(timeoutMs - 1);
    expect(task.state).toBe('CANCELING');
    expect(execution.killCalls).toBe(0);
    expect(t.fatal.errors).toHaveLength(0);

    await t.scheduler.advanceAsync(1);
    expect(task.state).toBe('FAILED');
    expect(t.fatal.errors).toHaveLength(1);
    expect(t.fatal.errors[0]).toBeInstanceOf(CancellationTimeoutError);
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'FAILED', abandoned: true, cancellationRequested: true });
    expect(outcome.error).toBe(t.fatal.errors[0]);
    expect(t.scheduler.pendingCount).toBe(0);
  });

  it('after a fatal error the runtime refuses work, keeps answering queries, and still closes', async () => {
    const t = testRuntime();
    const fatalEvents: unknown[] = [];
    t.runtime.events.on('fatalError', (event) => fatalEvents.push(event));
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    await t.scheduler.advanceAsync(timeoutMs);
    await task.done;
    expect(t.runtime.health).toBe('fatal');
    expect(fatalEvents).toHaveLength(1);
    expect(() => t.submit()).toThrow(RuntimeFatalError);
    expect(t.runtime.slotTable.getSlotReport()[0]).toMatchObject({ state: 'ACTIVE', allocationId: 'slot' });
    expect(t.runtime.slotTable.getTasks('slot')).toHaveLength(0); // abandoned task's slot use released
    // The work stopping later changes nothing.
    execution.finish('late');
    await settle();
    expect(task.state).toBe('FAILED');
    await t.runtime.close();
    expect(t.runtime.health).toBe('closed');
  });

  it('disarms every stage when the work stops before the grace period', async () => {
    const t = testRuntime({ hardStop: true });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    await t.scheduler.advanceAsync(interruptIntervalMs);
    execution.throw(new Error('aborted'));
    await task.done;
    expect(t.scheduler.pendingCount).toBe(0);
    await t.scheduler.advanceAsync(timeoutMs * 2);
    expect(execution.interruptCalls).toBe(1);
    expect(execution.killCalls).toBe(0);
    expect(t.fatal.errors).toHaveLength(0);
  });

  it('per-task timings override the runtime defaults', async () => {
    const t = testRuntime({ hardStop: true });
    const task = t.submit({ cancellation: { interruptIntervalMs: 10, gracePeriodMs: 50, timeoutMs: 100 } });
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    await t.scheduler.advanceAsync(49);
    expect(execution.interruptCalls).toBe(4);
    expect(execution.killCalls).toBe(0);
    await t.scheduler.advanceAsync(1);
    expect(execution.killCalls).toBe(1);
  });

  it('gracePeriodMs 0 hard-stops right after the graceful signal, inside cancel()', async () => {
    const t = testRuntime({ hardStop: true });
    const task = t.submit({ cancellation: { interruptIntervalMs: 10, gracePeriodMs: 0, timeoutMs: 100 } });
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    expect(execution.cancelCalls).toHaveLength(1);
    expect(execution.killCalls).toBe(1);
    expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
    expect(execution.killCalls).toBe(1);
    expect(t.scheduler.pendingCount).toBe(0);
  });

  it('gracePeriodMs 0 on an executor without a hard stop leaves the watchdog to end the task', async () => {
    const t = testRuntime({ hardStop: false });
    const task = t.submit({ cancellation: { interruptIntervalMs: 10, gracePeriodMs: 0, timeoutMs: 100 } });
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    expect(execution.killCalls).toBe(0);
    await t.scheduler.advanceAsync(100);
    expect(await task.done).toMatchObject({ state: 'FAILED', abandoned: true });
    expect(t.fatal.errors[0]).toBeInstanceOf(CancellationTimeoutError);
  });

  it('fail() while working runs the same ladder, and the task stays FAILED', async () => {
    const t = testRuntime({ hardStop: true });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    const cause = new Error('external');
    task.fail(cause);
    await t.scheduler.advanceAsync(gracePeriodMs);
    expect(execution.killCalls).toBe(1);
    expect(await task.done).toMatchObject({ state: 'FAILED', error: cause, abandoned: false });
  });

  it('a hard stop that does not stop the work still ends at the watchdog', async () => {
    const t = testRuntime({ hardStop: true, killStops: false });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    await t.scheduler.advanceAsync(gracePeriodMs);
    expect(execution.killCalls).toBe(1);
    await t.scheduler.advanceAsync(timeoutMs - gracePeriodMs);
    // Abandoning tries one last hard stop, without waiting for it.
    expect(execution.killCalls).toBe(2);
    expect(await task.done).toMatchObject({ state: 'FAILED', abandoned: true });
    expect(t.fatal.errors[0]).toBeInstanceOf(CancellationTimeoutError);
  });

  it('a diagnose() that never answers delays the warning by at most DIAGNOSE_TIMEOUT_MS', async () => {
    const t = testRuntime({ diagnostics: true });
    const stuck: TaskStuckEvent[] = [];
    t.runtime.events.on('taskStuck', (event) => stuck.push(event));
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.diagnose = () => new Promise(() => undefined);
    execution.run();
    task.cancel();
    await t.scheduler.advanceAsync(interruptIntervalMs);
    expect(stuck).toHaveLength(0);
    await t.scheduler.advanceAsync(DIAGNOSE_TIMEOUT_MS);
    expect(stuck.length).toBeGreaterThanOrEqual(1);
    expect(stuck[0]?.diagnostics).toBeUndefined();
    execution.throw(new Error('stop'));
    await task.done;
  });

  it('cancelling in DEPLOYING (waiting for capacity) is covered by the same ladder', async () => {
    const t = testRuntime({ hardStop: true });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    task.cancel();
    expect(task.state).toBe('CANCELING');
    expect(execution.cancelCalls).toHaveLength(1);
    await t.scheduler.advanceAsync(gracePeriodMs);
    expect(execution.killCalls).toBe(1);
    expect((await task.done).state).toBe('CANCELED');
  });
});

describe('interrupter with a slow diagnose()', () => {
  it('reports one tick at a time, in order, skipping ticks while a diagnosis is pending', async () => {
    const t = testRuntime({ diagnostics: true });
    const stuck: TaskStuckEvent[] = [];
    t.runtime.events.on('taskStuck', (event) => stuck.push(event));
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    let answer: ((text: string) => void) | undefined;
    execution.diagnose = () =>
      new Promise((resolve) => {
        answer = resolve;
      });
    execution.run();
    task.cancel();
    await t.scheduler.advanceAsync(interruptIntervalMs); // tick 1: diagnosis pending
    await t.scheduler.advanceAsync(interruptIntervalMs); // tick 2: skipped
    expect(execution.interruptCalls).toBe(2);
    answer?.('at first');
    await t.scheduler.advanceAsync(0);
    await t.scheduler.advanceAsync(interruptIntervalMs); // tick 3: reported
    answer?.('at third');
    await t.scheduler.advanceAsync(0);
    expect(stuck.map((event) => [event.elapsedMs, event.diagnostics])).toEqual([
      [interruptIntervalMs, 'at first'],
      [3 * interruptIntervalMs, 'at third'],
    ]);
    execution.throw(new Error('stop'));
    await task.done;
  });
});

describe('a diagnosis in flight when the work stops', () => {
  it('leaves no timer behind', async () => {
    const t = testRuntime({ diagnostics: true });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.diagnose = () => new Promise(() => undefined); // never answers
    execution.run();
    task.cancel();
    await t.scheduler.advanceAsync(interruptIntervalMs); // diagnosis pending, its timeout armed
    execution.throw(new Error('stopped'));
    await task.done;
    await t.scheduler.advanceAsync(0);
    expect(t.scheduler.pendingCount).toBe(0);
  });
});
