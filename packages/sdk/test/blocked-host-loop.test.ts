// Issue 14.5: a blocked host event loop delays the ladder but never skips a stage or reorders them.
// With fake time: `block()` moves time on without firing (a synchronous stretch in the host),
// `fireDue()` is one timers phase, and what the work reports between is the I/O phase.
import { describe, expect, it } from 'vitest';
import { TaskCancelledError } from '../src/index.js';
import { flushMicrotasks } from '../src/testing/index.js';
import { TIMINGS, testRuntime } from './helpers.js';

const HARD_STOP_MS = 2_000;

async function cancelledThenBlocked(killStops: boolean) {
  const t = testRuntime({ hardStop: true, killStops, hardStopMs: HARD_STOP_MS });
  const task = t.submit();
  const execution = await t.executor.nextLaunch();
  execution.run();
  task.cancel();
  // The host blocks for longer than timeoutMs right after the cancel.
  t.scheduler.block(TIMINGS.timeoutMs + 1_200);
  return { t, task, execution };
}

describe('a blocked host event loop', () => {
  it('work that stopped during the block ends CANCELED: no hard stop, no watchdog, no fatal', async () => {
    const { t, task, execution } = await cancelledThenBlocked(true);
    // Timers phase: the interrupter, the hard stop and the watchdog are all late.
    expect(t.scheduler.fireDue()).toBeGreaterThanOrEqual(3);
    // I/O phase: the outcome the work sent while the host was blocked is read now.
    execution.throw(new TaskCancelledError(task.executionId));
    await t.scheduler.advanceAsync(0);
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', abandoned: false, cancellationRequested: true });
    expect(execution.killCalls).toBe(0);
    expect(t.fatal.errors).toEqual([]);
    expect(t.runtime.health).toBe('running');
    expect(t.scheduler.pendingCount).toBe(0);
  });

  it('deaf work gets its hard stop before the watchdog, and the hard stop gets its own bound', async () => {
    const { t, task, execution } = await cancelledThenBlocked(false);
    t.scheduler.fireDue();
    await t.scheduler.advanceAsync(0);
    // The hard stop ran (late), the watchdog did not give up right behind it.
    expect(execution.killCalls).toBe(1);
    expect(t.fatal.errors).toEqual([]);
    expect(task.state).toBe('CANCELING');
    // The work stops within the executor's bound: CANCELED, nothing fatal.
    await t.scheduler.advanceAsync(HARD_STOP_MS - 1);
    expect(task.state).toBe('CANCELING');
    execution.throw(new Error('terminated'));
    expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
    expect(t.fatal.errors).toEqual([]);
  });

  it('gives up only when the work still runs after the hard stop had its bound', async () => {
    const { t, task, execution } = await cancelledThenBlocked(false);
    t.scheduler.fireDue();
    await t.scheduler.advanceAsync(0);
    expect(execution.killCalls).toBe(1);
    await t.scheduler.advanceAsync(HARD_STOP_MS - 1);
    expect(t.fatal.errors).toEqual([]);
    await t.scheduler.advanceAsync(1);
    await flushMicrotasks();
    expect(t.fatal.errors).toHaveLength(1);
    expect(t.fatal.errors[0]?.name).toBe('CancellationTimeoutError');
    expect(await task.done).toMatchObject({ state: 'FAILED', abandoned: true });
  });

  it('a block that begins once the hard stop began gives the hard stop its bound again when the host runs', async () => {
    const t = testRuntime({ hardStop: true, killStops: false, hardStopMs: HARD_STOP_MS });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    await t.scheduler.advanceAsync(TIMINGS.gracePeriodMs);
    expect(execution.killCalls).toBe(1);
    // The host blocks right after the hard stop began, until past the watchdog's time.
    t.scheduler.block(TIMINGS.timeoutMs - TIMINGS.gracePeriodMs + 200);
    t.scheduler.fireDue();
    await t.scheduler.advanceAsync(0);
    expect(t.fatal.errors).toEqual([]);
    // The hard stop finishes within its bound of running host time: CANCELED.
    await t.scheduler.advanceAsync(HARD_STOP_MS - 1);
    execution.throw(new Error('terminated'));
    expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
    expect(t.fatal.errors).toEqual([]);
  });

  it('without a block, the ladder is unchanged: the watchdog fires at timeoutMs', async () => {
    const t = testRuntime({ hardStop: true, killStops: false, hardStopMs: HARD_STOP_MS });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    await t.scheduler.advanceAsync(TIMINGS.gracePeriodMs);
    expect(execution.killCalls).toBe(1);
    await t.scheduler.advanceAsync(TIMINGS.timeoutMs - TIMINGS.gracePeriodMs - 1);
    expect(t.fatal.errors).toEqual([]);
    await t.scheduler.advanceAsync(1);
    expect(t.fatal.errors).toHaveLength(1);
    expect(await task.done).toMatchObject({ state: 'FAILED', abandoned: true });
  });
});
