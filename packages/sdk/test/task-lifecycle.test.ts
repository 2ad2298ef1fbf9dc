// Transition and outcome rules of the design's "Task lifecycle", in the spirit of Flink's TaskTest.
import { describe, expect, it } from 'vitest';
import { ErrorCode, TaskCancelledError, TaskwardenError } from '../src/index.js';
import { captureLogger, path, settle, testRuntime } from './helpers.js';

describe('task lifecycle', () => {
  it('runs CREATED → DEPLOYING → INITIALIZING → RUNNING → FINISHED and resolves done with the result', async () => {
    const t = testRuntime();
    const task = t.submit();
    expect(task.state).toBe('CREATED');
    const execution = await t.executor.nextLaunch();
    expect(task.state).toBe('DEPLOYING');
    execution.deploy();
    await settle();
    expect(task.state).toBe('INITIALIZING');
    execution.run();
    expect(task.state).toBe('RUNNING');
    execution.finish({ answer: 42 });
    const outcome = await task.done;
    expect(outcome).toEqual({
      state: 'FINISHED',
      result: { answer: 42 },
      cancellationRequested: false,
      abandoned: false,
    });
    expect(path(t.transitions, task.name)).toEqual([
      'CREATED',
      'DEPLOYING',
      'INITIALIZING',
      'RUNNING',
      'FINISHED',
    ]);
    expect(task.failureCause).toBeUndefined();
  });

  it('reports RUNNING even when the executor reports it before started resolved', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.spec.report.running();
    expect(task.state).toBe('RUNNING');
    execution.finish(1);
    await task.done;
    expect(path(t.transitions, task.name)).toEqual([
      'CREATED',
      'DEPLOYING',
      'INITIALIZING',
      'RUNNING',
      'FINISHED',
    ]);
  });

  it('cancel right away: CANCELED at once, never launched', async () => {
    const t = testRuntime();
    const task = t.submit();
    task.cancel();
    expect(task.state).toBe('CANCELED');
    const outcome = await task.done;
    expect(outcome).toEqual({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
    await settle();
    expect(t.executor.launches).toHaveLength(0);
    expect(task.failureCause).toBeUndefined();
  });

  it('fail right away: FAILED at once with the cause, never launched', async () => {
    const t = testRuntime();
    const task = t.submit();
    const cause = new Error('external');
    task.fail(cause);
    expect(task.state).toBe('FAILED');
    expect(task.failureCause).toBe(cause);
    expect(await task.done).toEqual({
      state: 'FAILED',
      error: cause,
      cancellationRequested: false,
      abandoned: false,
    });
    await settle();
    expect(t.executor.launches).toHaveLength(0);
  });

  it('a launch that throws fails the task in DEPLOYING', async () => {
    const launchError = new Error('cannot deploy');
    const t = testRuntime({ launchError });
    const task = t.submit();
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'FAILED', error: launchError, abandoned: false });
    expect(path(t.transitions, task.name)).toEqual(['CREATED', 'DEPLOYING', 'FAILED']);
  });

  it('work that throws without a cancel request fails with that error', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    const error = new Error('boom');
    execution.throw(error);
    expect(await task.done).toEqual({
      state: 'FAILED',
      error,
      cancellationRequested: false,
      abandoned: false,
    });
    expect(task.failureCause).toBe(error);
  });

  it('a non-Error thrown is normalised into a TaskwardenError keeping the value', async () => {
    const t = testRuntime();
    const task = t.submit();
    (await t.executor.nextLaunch()).throw('a string');
    const outcome = await task.done;
    expect(outcome.error).toBeInstanceOf(TaskwardenError);
    expect((outcome.error as TaskwardenError).code).toBe(ErrorCode.NON_ERROR_THROWN);
    expect((outcome.error as unknown as { value: unknown }).value).toBe('a string');
  });

  it.each([
    ['DEPLOYING', (_e: { deploy(): void; run(): void }) => undefined],
    ['INITIALIZING', (e: { deploy(): void }) => e.deploy()],
    ['RUNNING', (e: { run(): void }) => e.run()],
  ])('cancel during %s: CANCELING, canceler called, CANCELED once the work throws', async (state, reach) => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    reach(execution);
    await settle();
    expect(task.state).toBe(state);
    task.cancel();
    expect(task.state).toBe('CANCELING');
    expect(execution.cancelCalls).toHaveLength(1);
    expect(execution.cancelCalls[0]).toBeInstanceOf(TaskCancelledError);
    let resolved = false;
    void task.done.then(() => {
      resolved = true;
    });
    await settle();
    expect(resolved).toBe(false); // the work has not stopped yet
    const thrown = execution.cancelCalls[0];
    execution.throw(thrown);
    const outcome = await task.done;
    expect(outcome).toEqual({
      state: 'CANCELED',
      error: thrown,
      cancellationRequested: true,
      abandoned: false,
    });
    expect(task.failureCause).toBeUndefined();
    expect(t.scheduler.pendingCount).toBe(0);
  });

  it('work that returns after a cancel request ends FINISHED with cancellationRequested', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    execution.finish('done anyway');
    expect(await task.done).toEqual({
      state: 'FINISHED',
      result: 'done anyway',
      cancellationRequested: true,
      abandoned: false,
    });
  });

  it('any error after the cancel request ends CANCELED, keeping it as a diagnostic', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    const unrelated = new Error('exception after cancel');
    execution.throw(unrelated);
    const outcome = await task.done;
    expect(outcome.state).toBe('CANCELED');
    expect(outcome.error).toBe(unrelated);
    expect(task.failureCause).toBeUndefined();
  });

  it('fail during invoke: FAILED at once, done waits for the work, the external cause stays', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    const cause = new Error('failed externally');
    task.fail(cause);
    expect(task.state).toBe('FAILED');
    expect(task.failureCause).toBe(cause);
    expect(execution.cancelCalls).toHaveLength(1);
    let resolved = false;
    void task.done.then(() => {
      resolved = true;
    });
    await settle();
    expect(resolved).toBe(false);
    execution.finish('returned anyway');
    expect(await task.done).toEqual({
      state: 'FAILED',
      error: cause,
      cancellationRequested: false,
      abandoned: false,
    });
    expect(path(t.transitions, task.name)).toEqual([
      'CREATED',
      'DEPLOYING',
      'INITIALIZING',
      'RUNNING',
      'FAILED',
    ]);
  });

  it('fail during restore stops the work the same way', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.deploy();
    await settle();
    task.fail(new Error('x'));
    expect(execution.cancelCalls).toHaveLength(1);
    execution.throw(new Error('aborted'));
    expect((await task.done).state).toBe('FAILED');
  });

  it('fail then cancel: the cancel is a no-op', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    const cause = new Error('first');
    task.fail(cause);
    task.cancel();
    expect(task.state).toBe('FAILED');
    expect(execution.cancelCalls).toHaveLength(1);
    execution.throw(new Error('stopped'));
    expect(await task.done).toMatchObject({ state: 'FAILED', error: cause, cancellationRequested: false });
  });

  it('cancel then fail: FAILED with the cause, the ladder armed once', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    const cause = new Error('then failed');
    task.fail(cause);
    expect(task.state).toBe('FAILED');
    expect(execution.cancelCalls).toHaveLength(1);
    execution.throw(new Error('stopped'));
    expect(await task.done).toMatchObject({ state: 'FAILED', error: cause, cancellationRequested: true });
    expect(path(t.transitions, task.name)).toEqual([
      'CREATED',
      'DEPLOYING',
      'INITIALIZING',
      'RUNNING',
      'CANCELING',
      'FAILED',
    ]);
  });

  it('fail() with a non-Error cause wraps it with code TASK_FAILED_EXTERNALLY', async () => {
    const t = testRuntime();
    const task = t.submit();
    task.fail('because');
    expect((task.failureCause as TaskwardenError).code).toBe(ErrorCode.TASK_FAILED_EXTERNALLY);
    expect(task.failureCause?.message).toContain('because');
  });

  it('cancel and fail are idempotent and never throw, in every state', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    for (let i = 0; i < 3; i++) expect(() => task.cancel()).not.toThrow();
    expect(execution.cancelCalls).toHaveLength(1);
    execution.throw(new Error('x'));
    await task.done;
    expect(() => task.cancel()).not.toThrow();
    expect(() => task.fail(new Error('late'))).not.toThrow();
    expect(task.state).toBe('CANCELED');
    expect(execution.cancelCalls).toHaveLength(1);
  });

  it('emits exactly one terminal transition and done never rejects', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    task.cancel();
    task.fail(new Error('a'));
    execution.throw(new Error('b'));
    execution.finish('c');
    await expect(task.done).resolves.toMatchObject({ state: 'FAILED' });
    const terminal = t.transitions.filter((x) => ['FINISHED', 'CANCELED', 'FAILED'].includes(x.to));
    expect(terminal).toHaveLength(1);
  });

  it('a listener that cancels on DEPLOYING prevents the launch', async () => {
    const t = testRuntime();
    t.runtime.events.on('taskStateChanged', ({ task, to }) => {
      if (to === 'DEPLOYING') task.cancel();
    });
    const task = t.submit();
    const outcome = await task.done;
    expect(outcome.state).toBe('CANCELED');
    expect(t.executor.launches).toHaveLength(0);
  });

  it('a throwing listener is logged and the transition completes', async () => {
    const { logger, lines } = captureLogger('error');
    const t = testRuntime({}, { logger });
    t.runtime.events.on('taskStateChanged', () => {
      throw new Error('listener bug');
    });
    const task = t.submit();
    (await t.executor.nextLaunch()).finish(1);
    expect((await task.done).state).toBe('FINISHED');
    expect(lines.some((line) => line.msg === 'an event listener threw')).toBe(true);
  });

  it('an external signal cancels the task; an aborted one is born CANCELED', async () => {
    const t = testRuntime();
    const controller = new AbortController();
    const task = t.submit({ signal: controller.signal });
    const execution = await t.executor.nextLaunch();
    execution.run();
    controller.abort();
    expect(task.state).toBe('CANCELING');
    execution.throw(new Error('aborted'));
    expect((await task.done).state).toBe('CANCELED');

    const born = t.submit({ signal: AbortSignal.abort() });
    expect(born.state).toBe('CANCELED');
    await settle();
    expect(t.executor.launches).toHaveLength(1);
  });

  it('logs every transition at info through a child logger bound to the task', async () => {
    const { logger, lines } = captureLogger('info');
    const t = testRuntime({}, { logger });
    const task = t.submit({ executionId: 'exec-1', name: 'resize' });
    const execution = await t.executor.nextLaunch();
    execution.run();
    execution.finish(1);
    await task.done;
    const transitions = lines.filter((line) => line.msg === 'task state changed');
    expect(transitions.map((line) => `${line.from}->${line.to}`)).toEqual([
      'CREATED->DEPLOYING',
      'DEPLOYING->INITIALIZING',
      'INITIALIZING->RUNNING',
      'RUNNING->FINISHED',
    ]);
    for (const line of transitions) {
      expect(line).toMatchObject({ level: 30, jobId: 'job', executionId: 'exec-1', task: 'resize' });
    }
  });

  it('transitionLogLevel: debug moves the transition lines to debug', async () => {
    const info = captureLogger('info');
    const quiet = testRuntime({}, { logger: info.logger, transitionLogLevel: 'debug' });
    const task = quiet.submit();
    (await quiet.executor.nextLaunch()).finish(1);
    await task.done;
    expect(info.lines.filter((line) => line.msg === 'task state changed')).toHaveLength(0);

    const debug = captureLogger('debug');
    const verbose = testRuntime({}, { logger: debug.logger, transitionLogLevel: 'debug' });
    const other = verbose.submit();
    (await verbose.executor.nextLaunch()).finish(1);
    await other.done;
    const lines = debug.lines.filter((line) => line.msg === 'task state changed');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((line) => line.level === 20)).toBe(true);
  });
});
