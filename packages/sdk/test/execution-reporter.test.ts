// The one public reporting path (LaunchSpec.report): an executor that reports inside launch(), after
// it, through a wrapper or a spread spec; the runtime's listener bookkeeping; live-task lookup.
import 'reflect-metadata';
import { EventEmitter } from 'eventemitter3';
import pino from 'pino';
import type { DependencyContainer } from 'tsyringe';
import { container as rootContainer } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import type {
  Execution,
  ExecutionReporter,
  Executor,
  LaunchSpec,
  RuntimeOptions,
  TaskSlotTable,
  TaskStateChangedEvent,
} from '../src/index.js';
import {
  BaseExecution,
  createRuntime,
  DefaultTaskSlotTable,
  EmitOnlyFatalErrorHandler,
  ErrorCode,
  Tokens,
} from '../src/index.js';
import { FakeTask, ManualScheduler } from '../src/testing/index.js';

const silent = pino({ level: 'silent' });

/** Runs a function inside launch() and reports its outcome there, through the public reporter. */
class ReportingExecutor implements Executor {
  readonly name = 'reporting';
  readonly capabilities = { hardStop: false, diagnostics: false, isolation: 'none' } as const;
  /** What cancel() does: nothing, or report the work as ended at once (cancel-aware work). */
  onCancel: 'ignore' | 'report' = 'ignore';
  /** Reasons the executions were cancelled with, in order. */
  readonly cancels: Error[] = [];

  launch(spec: LaunchSpec): Execution {
    const invoke = spec.invokable as (input: unknown) => unknown;
    const execution: Execution = {
      cancel: (reason) => {
        this.cancels.push(reason);
        if (this.onCancel === 'report') spec.report.failed(reason);
      },
    };
    spec.report.attach(execution);
    spec.report.running();
    let ok = true;
    let value: unknown;
    try {
      value = invoke(spec.input);
    } catch (error) {
      ok = false;
      value = error;
    }
    if (ok) spec.report.finished(value);
    else spec.report.failed(value);
    return execution;
  }

  async close(): Promise<void> {}
}

/** Reports nothing until the test settles it: the outcome arrives after launch() returned. */
class HeldExecution extends BaseExecution {
  protected onCancel(reason: Error): void {
    this.reject(reason);
  }
}

class HeldExecutor implements Executor {
  readonly name = 'held';
  readonly capabilities = { hardStop: false, diagnostics: false, isolation: 'none' } as const;
  readonly launches: HeldExecution[] = [];

  launch(spec: LaunchSpec): Execution {
    const execution = new HeldExecution(spec);
    this.launches.push(execution);
    return execution;
  }

  async close(): Promise<void> {}
}

/** A runtime over `executor` whose slot table has slot 0 ACTIVE for `job` as `slot` (a repeat is a no-op). */
function runtimeWith(executor: Executor, extra: Partial<RuntimeOptions> = {}) {
  const runtime = createRuntime({
    numberOfSlots: 1,
    executors: { main: executor },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: silent,
    ...extra,
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  return runtime;
}

const newTable = (): DefaultTaskSlotTable =>
  new DefaultTaskSlotTable({ numberOfSlots: 1 }, new ManualScheduler(), new EventEmitter(), silent);

/** A parent container whose slot table is `table`: every runtime made with it shares that table. */
function sharing(table: TaskSlotTable): { container: DependencyContainer } {
  const container = rootContainer.createChildContainer();
  container.registerInstance<TaskSlotTable>(Tokens.TaskSlotTable, table);
  return { container };
}

describe('outcome reported inside launch()', () => {
  it('ends the task with every transition and frees its slot entry', async () => {
    const executor = new ReportingExecutor();
    const runtime = runtimeWith(executor);
    const seen: string[] = [];
    runtime.events.on('taskStateChanged', ({ to }) => seen.push(to));
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'slot',
      invokable: (x: unknown) => x,
      input: 7,
    });
    expect(runtime.getTask(task.executionId)).toBe(task);
    expect(await task.done).toMatchObject({ state: 'FINISHED', result: 7 });
    expect(seen).toEqual(['DEPLOYING', 'INITIALIZING', 'RUNNING', 'FINISHED']);
    expect(runtime.getTask(task.executionId)).toBeUndefined();
    expect(runtime.slotTable.getTasks('slot')).toEqual([]);
    await runtime.close();
  });

  it('a synchronous throw fails the task with that error', async () => {
    const runtime = runtimeWith(new ReportingExecutor());
    const boom = new Error('boom');
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'slot',
      invokable: () => {
        throw boom;
      },
    });
    expect(await task.done).toMatchObject({ state: 'FAILED', error: boom });
    await runtime.close();
  });

  it('a listener that cancels on RUNNING still gets the outcome rules: FINISHED, cancellationRequested', async () => {
    const runtime = runtimeWith(new ReportingExecutor());
    runtime.events.on('taskStateChanged', ({ task, to }) => {
      if (to === 'RUNNING') task.cancel();
    });
    const task = runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 'done anyway' });
    expect(await task.done).toMatchObject({
      state: 'FINISHED',
      result: 'done anyway',
      cancellationRequested: true,
    });
    await runtime.close();
  });

  it('a cancel from a RUNNING listener reaches the attached execution before the code runs', async () => {
    const executor = new ReportingExecutor();
    const runtime = runtimeWith(executor);
    runtime.events.on('taskStateChanged', ({ task, to }) => {
      if (to === 'RUNNING') task.cancel();
    });
    let cancelledBefore = -1;
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'slot',
      invokable: () => {
        cancelledBefore = executor.cancels.length;
      },
    });
    await task.done;
    expect(cancelledBefore).toBe(1);
    expect(executor.cancels[0]).toMatchObject({ code: ErrorCode.TASK_CANCELLED });
    await runtime.close();
  });
});

describe('outcome reported after launch() returned', () => {
  it('started, running, progress and the outcome arrive in order, and later reports are ignored', async () => {
    const executor = new HeldExecutor();
    const runtime = runtimeWith(executor);
    const seen: string[] = [];
    runtime.events.on('taskStateChanged', ({ to }) => seen.push(to));
    runtime.events.on('taskProgress', ({ progress }) => seen.push(`progress ${String(progress)}`));
    const task = runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 });
    await Promise.resolve();
    const [execution] = executor.launches;
    if (!execution) throw new Error('not launched');
    expect(task.state).toBe('DEPLOYING');
    execution.markStarted();
    execution.markRunning();
    execution.reportProgress(0.5);
    expect(task.progress).toBe(0.5);
    execution.resolve('value');
    // The outcome is out: nothing later changes it.
    execution.spec.report.failed(new Error('late'));
    execution.spec.report.progress(0.9);
    execution.spec.report.running();
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'FINISHED', result: 'value' });
    expect(task.progress).toBe(0.5);
    expect(seen).toEqual(['DEPLOYING', 'INITIALIZING', 'RUNNING', 'progress 0.5', 'FINISHED']);
    await runtime.close();
  });

  it('an executor that reports running before started still goes through INITIALIZING', async () => {
    const executor = new HeldExecutor();
    const runtime = runtimeWith(executor);
    const seen: string[] = [];
    runtime.events.on('taskStateChanged', ({ to }) => seen.push(to));
    const task = runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 });
    await Promise.resolve();
    executor.launches[0]?.spec.report.running();
    executor.launches[0]?.resolve(1);
    await task.done;
    expect(seen).toEqual(['DEPLOYING', 'INITIALIZING', 'RUNNING', 'FINISHED']);
    await runtime.close();
  });

  it('a cancelled task ends CANCELED once its BaseExecution reports the stop', async () => {
    const executor = new HeldExecutor();
    const runtime = runtimeWith(executor);
    const task = runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 });
    await Promise.resolve();
    executor.launches[0]?.markRunning();
    task.cancel();
    expect(await task.done).toMatchObject({ state: 'CANCELED', cancellationRequested: true });
    expect(executor.launches[0]?.cancelReason).toMatchObject({ code: ErrorCode.TASK_CANCELLED });
    await runtime.close();
  });

  it('a launch() that returns something other than an Execution fails the task, naming the executor', async () => {
    const broken: Executor = {
      name: 'broken',
      capabilities: { hardStop: false, diagnostics: false, isolation: 'none' },
      launch: () => null as unknown as Execution,
      close: async () => undefined,
    };
    const runtime = runtimeWith(broken);
    const outcome = await runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 }).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error?.message).toContain("executor 'main' returned null");
    await runtime.close();
  });
});

describe('the launch spec is a plain object', () => {
  it('survives { ...spec, input } and { ...spec, report } in a wrapper executor', async () => {
    const inner = new ReportingExecutor();
    const observed: string[] = [];
    const wrapper: Executor = {
      name: 'wrapper',
      capabilities: inner.capabilities,
      launch(spec) {
        const report: ExecutionReporter = {
          attach: (execution) => spec.report.attach(execution),
          started: () => spec.report.started(),
          running: () => {
            observed.push(`running ${spec.task.name}`);
            spec.report.running();
          },
          progress: (value) => spec.report.progress(value),
          finished: (value) => {
            observed.push(`finished ${String(value)}`);
            spec.report.finished(value);
          },
          failed: (error) => spec.report.failed(error),
        };
        return inner.launch({ ...spec, input: (spec.input as number) * 2, report });
      },
      close: async () => undefined,
    };
    const runtime = runtimeWith(wrapper);
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'slot',
      invokable: (x: unknown) => (x as number) + 1,
      input: 20,
    });
    expect(await task.done).toMatchObject({ state: 'FINISHED', result: 41 });
    expect(observed).toEqual(['running invokable', 'finished 41']);
    await runtime.close();
  });

  it('carries the task, the resolved cancellation timings and a logger as own properties', async () => {
    const executor = new HeldExecutor();
    const runtime = runtimeWith(executor, {
      cancellation: { interruptIntervalMs: 10, gracePeriodMs: 20, timeoutMs: 30 },
    });
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'slot',
      name: 'named',
      invokable: () => 1,
      cancellation: { timeoutMs: 40 },
    });
    await Promise.resolve();
    const spec = executor.launches[0]?.spec;
    if (!spec) throw new Error('not launched');
    const copy = { ...spec };
    expect(Object.keys(copy).sort()).toEqual([
      'cancellation',
      'input',
      'invokable',
      'logger',
      'report',
      'task',
    ]);
    expect(copy.task).toEqual({
      executionId: task.executionId,
      jobId: 'job',
      allocationId: 'slot',
      name: 'named',
      attempt: 1,
    });
    expect(copy.cancellation).toEqual({ interruptIntervalMs: 10, gracePeriodMs: 20, timeoutMs: 40 });
    expect(typeof copy.logger.info).toBe('function');
    copy.report.finished('via the copy');
    expect(await task.done).toMatchObject({ state: 'FINISHED', result: 'via the copy' });
    await runtime.close();
  });
});

describe('a wrapper that returns its own execution', () => {
  it('is the one the runtime cancels; the inner one reported the outcome', async () => {
    const inner = new HeldExecutor();
    const wrapperCancels: Error[] = [];
    const wrapper: Executor = {
      name: 'wrapper',
      capabilities: inner.capabilities,
      launch(spec) {
        const execution = inner.launch(spec);
        return {
          cancel: (reason) => {
            wrapperCancels.push(reason);
            execution.cancel(reason);
          },
        };
      },
      close: async () => undefined,
    };
    const runtime = runtimeWith(wrapper);
    const task = runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 });
    await Promise.resolve();
    inner.launches[0]?.markRunning();
    task.cancel();
    expect(await task.done).toMatchObject({ state: 'CANCELED' });
    expect(wrapperCancels).toHaveLength(1);
    await runtime.close();
  });
});

describe('work that ends while the ladder is being armed', () => {
  it('leaves no timer armed', async () => {
    const executor = new ReportingExecutor();
    executor.onCancel = 'report';
    const scheduler = new ManualScheduler();
    const runtime = runtimeWith(executor, { scheduler });
    // Cancelled from its own RUNNING transition: the ladder is armed while invoke has not run yet,
    // and the executor's cancel() reports the work ended before arm() returns.
    runtime.events.on('taskStateChanged', ({ task, to }) => {
      if (to === 'RUNNING') task.cancel();
    });
    const task = runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 'ignored' });
    expect(await task.done).toMatchObject({ state: 'CANCELED', cancellationRequested: true });
    expect(scheduler.pendingCount).toBe(0);
    await runtime.close();
  });
});

describe('freeing a slot whose tasks end at once', () => {
  it('listeners see RELEASING before FREE, and freeSlot returns the index of the FREE slot', async () => {
    const runtime = runtimeWith(new ReportingExecutor());
    const first: string[] = [];
    const second: string[] = [];
    runtime.events.on('slotStateChanged', ({ from, to }) => {
      first.push(`${from}->${to}`);
      // A RELEASING listener that cancels a task that has not started: it ends synchronously.
      if (to === 'RELEASING') for (const task of runtime.slotTable.getTasks('slot')) task.cancel();
    });
    runtime.events.on('slotStateChanged', ({ from, to }) => second.push(`${from}->${to}`));
    const tasks = [1, 2].map(() =>
      runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 }),
    );
    expect(runtime.slotTable.freeSlot('slot')).toBe(0);
    expect(first).toEqual(['ACTIVE->RELEASING', 'RELEASING->FREE']);
    expect(second).toEqual(['ACTIVE->RELEASING', 'RELEASING->FREE']);
    for (const task of tasks) expect((await task.done).state).toBe('CANCELED');
    runtime.slotTable.checkInvariants();
    await runtime.close();
  });

  it('tasks failed by freeSlot before they started: FREE at once, the index returned', async () => {
    const runtime = runtimeWith(new ReportingExecutor());
    const seen: string[] = [];
    runtime.events.on('slotStateChanged', ({ from, to }) => seen.push(`${from}->${to}`));
    const task = runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 });
    expect(runtime.slotTable.freeSlot('slot')).toBe(0);
    expect(seen).toEqual(['ACTIVE->RELEASING', 'RELEASING->FREE']);
    expect(await task.done).toMatchObject({ state: 'FAILED', error: { code: ErrorCode.SLOT_RELEASED } });
    await runtime.close();
  });
});

describe('taskStateChanged listeners', () => {
  it('are seen as they come and go: on, once, off, removeAllListeners', async () => {
    const runtime = runtimeWith(new ReportingExecutor());
    const submit = () => runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 }).done;
    const all: TaskStateChangedEvent[] = [];
    const listener = (event: TaskStateChangedEvent) => all.push(event);

    await submit();
    expect(all).toHaveLength(0);

    runtime.events.on('taskStateChanged', listener);
    await submit();
    expect(all).toHaveLength(4);

    let once = 0;
    runtime.events.once('taskStateChanged', () => once++);
    await submit();
    expect(once).toBe(1);
    expect(all).toHaveLength(8);

    runtime.events.off('taskStateChanged', listener);
    await submit();
    expect(all).toHaveLength(8);

    runtime.events.addListener('taskStateChanged', listener);
    runtime.events.removeAllListeners('taskStateChanged');
    await submit();
    expect(all).toHaveLength(8);

    runtime.events.addListener('taskStateChanged', listener);
    await submit();
    expect(all).toHaveLength(12);
    runtime.events.removeAllListeners();
    await submit();
    expect(all).toHaveLength(12);
    await runtime.close();
  });
});

describe('live tasks', () => {
  it('with a slot table shared by two runtimes, each finds only its own tasks; ids are per runtime', async () => {
    const shared = sharing(newTable());
    const a = runtimeWith(new HeldExecutor(), shared);
    const b = runtimeWith(new HeldExecutor(), shared);
    const first = a.submit({
      jobId: 'job',
      allocationId: 'slot',
      executionId: 'shared-id',
      invokable: () => 1,
    });
    expect(a.getTask('shared-id')).toBe(first);
    expect(b.getTask('shared-id')).toBeUndefined();
    const second = b.submit({
      jobId: 'job',
      allocationId: 'slot',
      executionId: 'shared-id',
      invokable: () => 2,
    });
    expect(b.getTask('shared-id')).toBe(second);
    await Promise.all([a.close(), b.close()]);
    expect(a.getTask('shared-id')).toBeUndefined();
  });

  it('an explicit id equal to a live generated one is a duplicate; getTask finds either form', async () => {
    const executor = new HeldExecutor();
    const heldRuntime = runtimeWith(executor);
    const task = heldRuntime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 });
    const id = task.executionId;
    expect(heldRuntime.getTask(id)).toBe(task);
    expect(() =>
      heldRuntime.submit({ jobId: 'job', allocationId: 'slot', executionId: id, invokable: () => 1 }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.DUPLICATE_EXECUTION_ID, executionId: id }));
    expect(heldRuntime.getTask(`${id}x`)).toBeUndefined();
    expect(heldRuntime.getTask(42 as unknown as string)).toBeUndefined();
    await Promise.resolve();
    executor.launches[0]?.resolve(1);
    await task.done;
    // Once done, the same id may be given explicitly (a retry) and is found by it.
    const retry = heldRuntime.submit({
      jobId: 'job',
      allocationId: 'slot',
      executionId: id,
      invokable: () => 1,
    });
    expect(retry.executionId).toBe(id);
    expect(heldRuntime.getTask(id)).toBe(retry);
    await Promise.resolve();
    executor.launches[1]?.resolve(1);
    await retry.done;
    await heldRuntime.close();
  });

  it("a foreign task in the shared table is not the runtime's, and the runtime leaves it there", async () => {
    const table = newTable();
    const runtime = runtimeWith(new ReportingExecutor(), sharing(table));
    const fake = new FakeTask('fake', 'job', 'slot', table);
    table.addTask(fake);
    expect(runtime.getTask('fake')).toBeUndefined();
    await runtime.close();
    expect(table.getTasks('slot')).toEqual([fake]);
    fake.finish();
    expect(table.getTasks('slot')).toEqual([]);
  });
});
