import type { WorkerPoolStats } from '@taskwarden/executor-local';
import { WorkerExecutor } from '@taskwarden/executor-local';
import type { TaskStuckEvent } from '@taskwarden/sdk';
import { ErrorCode, ExecutorClosedError, TaskCancelledError } from '@taskwarden/sdk';
import { launchDirectly } from '@taskwarden/sdk/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { closeHarnesses, delay, ref, startHarness, TIMINGS, until } from './worker-harness.js';

afterEach(closeHarnesses);

/** Leaves the interrupter time to read the stack before the hard stop, even on a loaded machine. */
const READ_STACK_FIRST = { ...TIMINGS, gracePeriodMs: 1_000 };

/** Every interrupter warning's diagnostics (the first may be cut short on a loaded machine). */
function allDiagnostics(events: readonly TaskStuckEvent[]): string {
  return events.map((event) => event.diagnostics ?? '(none)').join('\n');
}

describe('WorkerExecutor cooperative cancellation', () => {
  it("aborts the task's signal inside the worker; the thread stays and serves the next task", async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    await h.submit(ref('invokables.mjs', 'moduleState')).done;
    const task = h.submit(ref('invokables.mjs', 'sleep'), 60_000);
    await until(() => task.state === 'RUNNING', 'RUNNING');
    task.cancel();
    expect(task.state).toBe('CANCELING');
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
    // What the work threw: the abort reason, rebuilt as the SDK's class.
    expect(outcome.error).toBeInstanceOf(TaskCancelledError);
    expect(outcome.error).toMatchObject({ code: ErrorCode.TASK_CANCELLED, executionId: task.executionId });
    expect(h.stuck).toEqual([]);
    expect((await h.submit(ref('invokables.mjs', 'moduleState')).done).result).toEqual({
      loads: 1,
      calls: 2,
    });
    expect(h.executor.threadCount).toBe(1);
  });

  it("the abort reason is a TaskCancelledError for task code that imports the SDK's classes itself", async () => {
    const h = startHarness();
    const task = h.submit(ref('abort-reason.mjs', 'inspectAbortReason'));
    await until(() => task.state === 'RUNNING', 'RUNNING');
    task.cancel();
    expect(await task.done).toMatchObject({
      state: 'FINISHED',
      cancellationRequested: true,
      result: { isTaskCancelledError: true, isTaskwardenError: true, code: ErrorCode.TASK_CANCELLED },
    });
  });

  it("calls the invokable's cancel() hook", async () => {
    const h = startHarness();
    const task = h.submit(ref('stubborn.mjs', 'stopsOnCancelHook'));
    await until(() => task.state === 'RUNNING', 'RUNNING');
    task.cancel();
    const outcome = await task.done;
    expect(outcome.state).toBe('CANCELED');
    expect(outcome.error?.message).toBe(
      'stopped by the cancel hook (signal aborted: true, reason: TaskCancelledError)',
    );
  });

  it('work that completes after the request ends FINISHED with its result', async () => {
    const h = startHarness();
    const task = h.submit(ref('stubborn.mjs', 'finishesDespiteCancel'));
    await until(() => task.state === 'RUNNING', 'RUNNING');
    task.cancel();
    expect(await task.done).toMatchObject({
      state: 'FINISHED',
      result: 'finished after TASK_CANCELLED',
      cancellationRequested: true,
    });
  });

  it('fail() stops the work, keeps the external cause, and done waits for the work', async () => {
    const h = startHarness();
    const task = h.submit(ref('invokables.mjs', 'sleep'), 60_000);
    await until(() => task.state === 'RUNNING', 'RUNNING');
    const cause = new Error('lost the lease');
    task.fail(cause);
    expect(task.state).toBe('FAILED');
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'FAILED', error: cause, abandoned: false });
  });

  it('a task cancelled during restore is never invoked', async () => {
    const h = startHarness();
    const task = h.submit(ref('invokables.mjs', 'withRestore'));
    await until(() => task.state === 'INITIALIZING', 'INITIALIZING (restore takes 50 ms)');
    task.cancel();
    const outcome = await task.done;
    // invoke() would have returned { restored: true } and ended FINISHED.
    expect(outcome.state).toBe('CANCELED');
    expect(outcome.error).toBeInstanceOf(TaskCancelledError);
    expect(h.path(task.name)).toEqual(['CREATED', 'DEPLOYING', 'INITIALIZING', 'CANCELING', 'CANCELED']);
  });

  it('a task cancelled while its thread is still starting is never invoked', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    const task = h.submit(ref('invokables.mjs', 'moduleState'));
    await until(() => task.state === 'DEPLOYING', 'DEPLOYING');
    task.cancel();
    expect((await task.done).state).toBe('CANCELED');
    expect(h.path(task.name)).not.toContain('RUNNING');
    expect((await h.submit(ref('invokables.mjs', 'moduleState')).done).result).toEqual({
      loads: 1,
      calls: 1,
    });
  });
});

describe('WorkerExecutor waiting tasks', () => {
  it('tasks beyond maxThreads wait in DEPLOYING, start first come first served, and a cancelled one is never invoked', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    const blocker = h.submit(ref('invokables.mjs', 'sleep'), 60_000);
    const waiting = [0, 1, 2].map(() => h.submit(ref('invokables.mjs', 'moduleState')));
    await until(() => blocker.state === 'RUNNING', 'the blocker to run');
    for (const task of waiting) expect(task.state).toBe('DEPLOYING');
    expect(h.executor.stats).toMatchObject({ threads: 1, busy: 1, queued: 3 });
    const [first, cancelled, last] = waiting as [
      (typeof waiting)[0],
      (typeof waiting)[0],
      (typeof waiting)[0],
    ];
    cancelled.cancel();
    expect(h.executor.stats.queued).toBe(2);
    expect((await cancelled.done).state).toBe('CANCELED');
    expect(h.path(cancelled.name)).toEqual(['CREATED', 'DEPLOYING', 'CANCELING', 'CANCELED']);
    for (const task of [first, last]) expect(task.state).toBe('DEPLOYING');
    blocker.cancel();
    expect((await blocker.done).state).toBe('CANCELED');
    // One module, one thread: `calls` counts invocations, so the cancelled task never ran and the
    // first waiting task ran first.
    expect((await first.done).result).toEqual({ loads: 1, calls: 1 });
    expect((await last.done).result).toEqual({ loads: 1, calls: 2 });
  });

  it('the next waiting task is handed to a busy thread ahead of time, yet cancelling it still means it never runs', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    const blocker = h.submit(ref('invokables.mjs', 'sleep'), 60_000);
    await until(() => blocker.state === 'RUNNING', 'the blocker to run');
    const offered = h.submit(ref('invokables.mjs', 'moduleState'));
    await delay(20);
    expect(offered.state).toBe('DEPLOYING');
    expect(h.executor.stats).toMatchObject({ threads: 1, busy: 1, queued: 1 });
    offered.cancel();
    expect((await offered.done).state).toBe('CANCELED');
    expect(h.executor.stats.queued).toBe(0);
    blocker.cancel();
    expect((await blocker.done).state).toBe('CANCELED');
    // Same thread, same module: `calls` counts invocations, and the cancelled task made none.
    expect((await h.submit(ref('invokables.mjs', 'moduleState')).done).result).toEqual({
      loads: 1,
      calls: 1,
    });
  });

  it('waiting tasks start first come first served, whichever thread frees up first', async () => {
    const h = startHarness({ executor: { maxThreads: 2 } });
    const long = h.submit(ref('invokables.mjs', 'sleep'), 60_000, { name: 'long' });
    await until(() => long.state === 'RUNNING', 'the long task to run');
    const short = h.submit(ref('invokables.mjs', 'sleep'), 50, { name: 'short' });
    await until(() => short.state === 'RUNNING', 'the short task to run');
    // Three more wait; the first of them is offered to the thread that has run longest (long's).
    const waiting = ['w1', 'w2', 'w3'].map((name) => h.submit(ref('invokables.mjs'), name, { name }));
    const outcomes = await Promise.all(waiting.map((task) => task.done));
    expect(outcomes.map((outcome) => outcome.result)).toEqual(['w1', 'w2', 'w3']);
    // They ran on short's thread while long still ran: w1 was taken back from long's thread.
    expect(long.state).toBe('RUNNING');
    const started = h.transitions.filter((step) => step.to === 'RUNNING').map((step) => step.name);
    expect(started).toEqual(['long', 'short', 'w1', 'w2', 'w3']);
    long.cancel();
    expect((await long.done).state).toBe('CANCELED');
  });

  it('runtime.cancelJob drops waiting tasks and stops running ones', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    const running = h.submit(ref('invokables.mjs', 'sleep'), 60_000);
    const waiting = h.submit(ref('invokables.mjs', 'moduleState'));
    await until(() => running.state === 'RUNNING', 'RUNNING');
    const report = await h.runtime.cancelJob('job');
    expect(report.tasks.map((task) => task.state)).toEqual(['CANCELED', 'CANCELED']);
    expect(h.path(waiting.name)).not.toContain('RUNNING');
    expect(h.executor.stats.queued).toBe(0);
  });
});

describe('WorkerExecutor hard stop', () => {
  it('terminates a CPU-bound task that ignores cancellation; the interrupter warns with its stack', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    const task = h.submit(ref('stubborn.mjs', 'spinForever'), undefined, { cancellation: READ_STACK_FIRST });
    await until(() => task.state === 'RUNNING', 'RUNNING');
    const cancelledAt = Date.now();
    task.cancel();
    const outcome = await task.done;
    expect(Date.now() - cancelledAt).toBeGreaterThanOrEqual(READ_STACK_FIRST.gracePeriodMs - 5);
    expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
    expect(outcome.error).toBeInstanceOf(TaskCancelledError);
    expect(outcome.error?.message).toContain('terminating its worker thread');
    expect(h.fatal.errors).toEqual([]);
    // diagnose(): the stuck thread's JavaScript stack, in the interrupter's warning.
    expect(h.stuck.length).toBeGreaterThanOrEqual(1);
    expect(allDiagnostics(h.stuck)).toMatch(/at spinForever \(file:\/\/.*stubborn\.mjs:\d+:\d+\)/);
    // The pool replaced the thread.
    expect(await h.submit(ref('invokables.mjs'), 'next').done).toMatchObject({
      state: 'FINISHED',
      result: 'next',
    });
    expect(h.executor.threadCount).toBe(1);
  });

  it('gracePeriodMs: 0 terminates at once; the waiting task gets a fresh thread once the old one has exited', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    const immediate = { ...TIMINGS, gracePeriodMs: 0 };
    const task = h.submit(ref('stubborn.mjs', 'spinForever'), undefined, { cancellation: immediate });
    const waiting = h.submit(ref('invokables.mjs'), 'next');
    await until(() => task.state === 'RUNNING', 'RUNNING');
    const seen: WorkerPoolStats[] = [];
    const sampler = setInterval(() => seen.push(h.executor.stats), 1);
    task.cancel();
    // The hard stop is part of the cancel call: the thread is already being terminated.
    expect(h.executor.stats).toMatchObject({ threads: 1, exiting: 1, queued: 1 });
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
    expect(outcome.error?.message).toContain('terminating its worker thread');
    expect(await waiting.done).toMatchObject({ state: 'FINISHED', result: 'next' });
    clearInterval(sampler);
    expect(Math.max(...seen.map((stats) => stats.threads))).toBe(1);
    expect(h.stuck).toEqual([]);
    expect(h.fatal.errors).toEqual([]);
  });

  it('terminates a task blocked in Atomics.wait', async () => {
    const h = startHarness();
    const task = h.submit(ref('stubborn.mjs', 'blockInAtomicsWait'), undefined, {
      cancellation: READ_STACK_FIRST,
    });
    await until(() => task.state === 'RUNNING', 'RUNNING');
    task.cancel();
    expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
    expect(allDiagnostics(h.stuck)).toContain('at blockInAtomicsWait');
  });

  it('counts a terminated thread until it has really exited; the waiting task starts only then', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    // The native call ignores terminate() for about a second, so the exiting thread is easy to see.
    const stuck = h.submit(ref('stubborn.mjs', 'blockInNativeCall'), 1_200);
    const waiting = h.submit(ref('invokables.mjs'), 'waited');
    await until(() => stuck.state === 'RUNNING', 'RUNNING');
    const seen: WorkerPoolStats[] = [];
    const sampler = setInterval(() => seen.push(h.executor.stats), 2);
    stuck.cancel();
    await until(() => h.executor.stats.exiting === 1, 'the hard stop');
    expect(h.executor.stats).toEqual({ threads: 1, busy: 0, idle: 0, exiting: 1, queued: 1 });
    expect(stuck.state).toBe('CANCELING'); // the work has not stopped yet
    expect(waiting.state).toBe('DEPLOYING');
    const outcome = await stuck.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', abandoned: false });
    expect(await waiting.done).toMatchObject({ state: 'FINISHED', result: 'waited' });
    clearInterval(sampler);
    expect(Math.max(...seen.map((stats) => stats.threads))).toBe(1);
    // No JavaScript stack can be read from a thread blocked in a native call: diagnose says so.
    const diagnostics = allDiagnostics(h.stuck);
    expect(diagnostics).toMatch(
      /worker thread \d+ does not answer the inspector .* blocked in a synchronous native call/,
    );
    expect(diagnostics).toMatch(/worker thread \d+ was terminated \d+ ms ago and has not exited yet/);
  });

  it('runtime.close({ graceMs: 0 }) hard-stops running work at once', async () => {
    const h = startHarness();
    const patient = { ...TIMINGS, gracePeriodMs: 5_000, timeoutMs: 10_000 };
    const task = h.submit(ref('stubborn.mjs', 'spinForever'), undefined, { cancellation: patient });
    await until(() => task.state === 'RUNNING', 'RUNNING');
    const started = Date.now();
    await h.runtime.close({ graceMs: 0 });
    expect(Date.now() - started).toBeLessThan(patient.gracePeriodMs);
    expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
    expect(h.executor.threadCount).toBe(0);
  });
});

describe('WorkerExecutor.close()', () => {
  it('fails running and waiting work with ExecutorClosedError and resolves once every thread has exited', async () => {
    const executor = new WorkerExecutor({ maxThreads: 1 });
    const launch = (name: string, invokable = ref('stubborn.mjs', 'spinForever')) =>
      launchDirectly(executor, { invokable, task: { executionId: name, name } });
    const runningRun = launchDirectly(executor, {
      invokable: ref('stubborn.mjs', 'spinForever'),
      task: { executionId: 'running', name: 'running' },
    });
    const waitingRun = launch('waiting', ref('invokables.mjs'));
    const running = runningRun.execution;
    const outcomes = Promise.allSettled([runningRun.result, waitingRun.result]);
    await runningRun.started;
    expect(executor.stats).toMatchObject({ threads: 1, queued: 1 });
    await executor.close();
    expect(executor.threadCount).toBe(0);
    const [ranOutcome, waitedOutcome] = await outcomes;
    expect(ranOutcome).toMatchObject({ status: 'rejected', reason: expect.any(ExecutorClosedError) });
    expect(waitedOutcome).toMatchObject({ status: 'rejected', reason: expect.any(ExecutorClosedError) });
    expect(() => launch('late')).toThrow(ExecutorClosedError);
    // Idempotent, and the execution methods never throw on stopped work.
    await executor.close();
    running.cancel(new Error('late'));
    await running.kill?.();
    expect(await running.diagnose?.()).toBeUndefined();
  });
});
