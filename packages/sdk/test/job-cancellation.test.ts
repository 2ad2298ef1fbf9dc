// runtime.cancelJob with the semantics of the Prefect proposal (../shared/seeds), at the runtime level.
import { describe, expect, it } from 'vitest';
import type { JobStateChangedEvent } from '../src/index.js';
import { ErrorCode } from '../src/index.js';
import { settle, TIMINGS, testRuntime } from './helpers.js';

function jobEvents(t: ReturnType<typeof testRuntime>): Array<string> {
  const events: string[] = [];
  t.runtime.events.on('jobStateChanged', ({ jobId, from, to }: JobStateChangedEvent) =>
    events.push(`${jobId}:${from}->${to}`),
  );
  return events;
}

describe('cancelJob', () => {
  it('cancels every task of the job, lets finishers finish, and reports every final state', async () => {
    const t = testRuntime({ hardStop: true });
    const events = jobEvents(t);
    t.runtime.slotTable.allocateSlot({ index: 1, jobId: 'other', allocationId: 'other-slot' });
    t.runtime.slotTable.markSlotActive('other-slot');

    const cooperative = t.submit({ name: 'cooperative' });
    const finishesAnyway = t.submit({ name: 'finishes-anyway' });
    const failedExternally = t.submit({ name: 'failed-externally' });
    const deafHardStopped = t.submit({ name: 'deaf' });
    const bystander = t.runtime.submit({
      jobId: 'other',
      allocationId: 'other-slot',
      name: 'bystander',
      invokable: () => 0,
    });
    await settle();
    const [coop, finisher, failing, deaf, other] = t.executor.launches;
    for (const execution of [coop, finisher, failing, deaf, other]) execution?.run();
    const notStarted = t.submit({ name: 'not-started' }); // CREATED when the job is cancelled

    const report = t.runtime.cancelJob('job');
    expect(events).toEqual(['job:RUNNING->CANCELING']);
    expect(notStarted.state).toBe('CANCELED');
    for (const task of [cooperative, finishesAnyway, failedExternally, deafHardStopped]) {
      expect(task.state).toBe('CANCELING');
    }
    expect(t.executor.cancelJobCalls).toEqual(['job']);
    // Submissions while CANCELING are born CANCELED and never launched.
    const late = t.submit({ name: 'late' });
    expect(late.state).toBe('CANCELED');

    coop?.throw(coop.cancelCalls[0]);
    finisher?.finish('completed anyway');
    const cause = new Error('failed while cancelling');
    failedExternally.fail(cause);
    failing?.throw(new Error('stopped'));
    await t.scheduler.advanceAsync(TIMINGS.gracePeriodMs); // hard-stops the deaf one

    const result = await report;
    expect(result).toEqual({
      jobId: 'job',
      state: 'CANCELED',
      tasks: expect.arrayContaining([
        { executionId: cooperative.executionId, name: 'cooperative', state: 'CANCELED' },
        { executionId: finishesAnyway.executionId, name: 'finishes-anyway', state: 'FINISHED' },
        { executionId: failedExternally.executionId, name: 'failed-externally', state: 'FAILED' },
        { executionId: deafHardStopped.executionId, name: 'deaf', state: 'CANCELED' },
        { executionId: notStarted.executionId, name: 'not-started', state: 'CANCELED' },
        { executionId: late.executionId, name: 'late', state: 'CANCELED' },
      ]),
    });
    expect(result.tasks).toHaveLength(6);
    expect(events).toEqual(['job:RUNNING->CANCELING', 'job:CANCELING->CANCELED']);
    // Never-started and late tasks were never launched; the other job was not disturbed.
    expect(t.executor.launches).toHaveLength(5);
    expect(bystander.state).toBe('RUNNING');
    other?.finish('ok');
    expect((await bystander.done).state).toBe('FINISHED');
  });

  it('returns the same promise while it runs; an empty job resolves at once', async () => {
    const t = testRuntime();
    const events = jobEvents(t);
    const task = t.submit();
    (await t.executor.nextLaunch()).run();
    const first = t.runtime.cancelJob('job');
    expect(t.runtime.cancelJob('job')).toBe(first);
    t.executor.launches[0]?.throw(new Error('aborted'));
    expect((await first).tasks).toEqual([
      { executionId: task.executionId, name: task.name, state: 'CANCELED' },
    ]);

    const empty = await t.runtime.cancelJob('nothing-here');
    expect(empty).toEqual({ jobId: 'nothing-here', state: 'CANCELED', tasks: [] });
    expect(events).toContain('nothing-here:CANCELING->CANCELED');
  });

  it('after CANCELED the job id can be used again (a restart)', async () => {
    const t = testRuntime();
    await t.runtime.cancelJob('job');
    const restarted = t.submit({ name: 'restarted' });
    expect(restarted.state).toBe('CREATED');
    (await t.executor.nextLaunch()).finish('again');
    expect(await restarted.done).toMatchObject({ state: 'FINISHED', result: 'again' });
  });

  it('a throwing executor hook is logged and does not block the cancellation', async () => {
    const t = testRuntime();
    t.executor.cancelJob = async () => {
      throw new Error('hook failed');
    };
    t.submit();
    await settle();
    const report = t.runtime.cancelJob('job');
    t.executor.launches[0]?.throw(new Error('aborted'));
    expect((await report).tasks[0]?.state).toBe('CANCELED');
  });

  it('a task that is abandoned by the watchdog ends the job all the same', async () => {
    const t = testRuntime({ hardStop: false });
    t.submit({ name: 'deaf' });
    await settle();
    t.executor.launches[0]?.run();
    const report = t.runtime.cancelJob('job');
    await t.scheduler.advanceAsync(TIMINGS.timeoutMs);
    expect((await report).tasks).toEqual([expect.objectContaining({ name: 'deaf', state: 'FAILED' })]);
    expect(t.runtime.health).toBe('fatal');
  });

  it('rejects an invalid job id with a typed error', async () => {
    const t = testRuntime();
    await expect(t.runtime.cancelJob('')).rejects.toMatchObject({ code: ErrorCode.INVALID_DESCRIPTOR });
  });

  it('close() cancels every job through the same path', async () => {
    const t = testRuntime();
    const events = jobEvents(t);
    t.runtime.slotTable.allocateSlot({ index: 1, jobId: 'second', allocationId: 's2' });
    t.runtime.slotTable.markSlotActive('s2');
    t.submit();
    t.runtime.submit({ jobId: 'second', allocationId: 's2', invokable: () => 0 });
    await settle();
    for (const execution of t.executor.launches) execution.run();
    const closing = t.runtime.close();
    for (const execution of t.executor.launches) execution.throw(new Error('aborted'));
    await closing;
    expect(events).toEqual(
      expect.arrayContaining([
        'job:RUNNING->CANCELING',
        'job:CANCELING->CANCELED',
        'second:RUNNING->CANCELING',
        'second:CANCELING->CANCELED',
      ]),
    );
    expect(t.executor.cancelJobCalls.sort()).toEqual(['job', 'second']);
  });
});

describe('cancelJob order', () => {
  it('withdraws tasks that have not started before it stops running ones', async () => {
    const t = testRuntime();
    const running = t.submit({ name: 'running' });
    await settle();
    t.executor.launches[0]?.run();
    const waiting = t.submit({ name: 'waiting' }); // launched, still DEPLOYING (waiting for capacity)
    await settle();
    const order: string[] = [];
    for (const execution of t.executor.launches) {
      const name = execution.spec.task.name;
      execution.cancel = (reason) => {
        order.push(name);
        execution.throw(reason);
      };
    }
    await t.runtime.cancelJob('job');
    expect(order).toEqual(['waiting', 'running']);
    expect((await waiting.done).state).toBe('CANCELED');
    expect((await running.done).state).toBe('CANCELED');
  });
});
