// The inline hot path's shortcuts keep the public semantics: an executor that reports its outcome
// inside launch(), the runtime's listener bookkeeping, and live-task lookup through the slot table.
import 'reflect-metadata';
import { EventEmitter } from 'eventemitter3';
import pino from 'pino';
import type { DependencyContainer } from 'tsyringe';
import { container as rootContainer } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import type {
  Execution,
  Executor,
  LaunchSpec,
  RuntimeOptions,
  Task,
  TaskSlotTable,
  TaskStateChangedEvent,
} from '../src/index.js';
import {
  createRuntime,
  DefaultTaskSlotTable,
  EmitOnlyFatalErrorHandler,
  ErrorCode,
  Tokens,
} from '../src/index.js';
import type { OutcomeReporter } from '../src/internal/index.js';
import { ATTACH_EXECUTION, REPORT_OUTCOME } from '../src/internal/index.js';
import { FakeTask, ManualScheduler } from '../src/testing/index.js';

const silent = pino({ level: 'silent' });

/** Runs a function inside launch() and reports its outcome there, like the inline executor. */
class ReportingExecutor implements Executor {
  readonly name = 'reporting';
  readonly capabilities = { hardStop: false, diagnostics: false, isolation: 'none' } as const;
  resultReads = 0;
  /** What cancel() does: nothing, or report the work as ended at once (cancel-aware work). */
  onCancel: 'ignore' | 'report' = 'ignore';

  launch(spec: LaunchSpec): Execution {
    const reporter = spec as OutcomeReporter;
    const report = reporter[REPORT_OUTCOME];
    const attach = reporter[ATTACH_EXECUTION];
    if (typeof report !== 'function' || typeof attach !== 'function') {
      throw new Error('the runtime offers no outcome report');
    }
    const executor = this;
    const invoke = spec.invokable as (input: unknown) => unknown;
    let ok = true;
    let value: unknown;
    const execution: Execution = {
      started: Promise.resolve(),
      get result() {
        executor.resultReads++;
        return ok ? Promise.resolve(value) : Promise.reject(value);
      },
      cancel: (reason) => {
        if (executor.onCancel === 'report') report.call(spec, false, reason);
      },
    };
    attach.call(spec, execution);
    spec.onRunning();
    try {
      value = invoke(spec.input);
    } catch (error) {
      ok = false;
      value = error;
    }
    report.call(spec, ok, value);
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
  it('ends the task with every transition, without reading result, and frees its slot entry', async () => {
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
    expect(executor.resultReads).toBe(0);
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
});

describe('outcome reported by another execution than the one returned', () => {
  it('a wrapper returning its own execution is followed as usual: no unhandled rejection', async () => {
    const inner = new ReportingExecutor();
    const wrapper: Executor = {
      name: 'wrapper',
      capabilities: inner.capabilities,
      launch(spec) {
        const execution = inner.launch(spec);
        // A tracing wrapper: its own promises, derived from the inner ones.
        return {
          started: execution.started.then(() => undefined),
          result: execution.result.finally(() => undefined),
          cancel: (reason) => execution.cancel(reason),
        };
      },
      close: async () => undefined,
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const runtime = runtimeWith(wrapper);
      const boom = new Error('boom');
      const task = runtime.submit({
        jobId: 'job',
        allocationId: 'slot',
        invokable: () => {
          throw boom;
        },
      });
      expect(await task.done).toMatchObject({ state: 'FAILED', error: boom });
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      await runtime.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
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
  it('with a slot table shared by two runtimes, each finds only its own tasks; ids stay unique', async () => {
    const shared = sharing(newTable());
    const a = runtimeWith(new ReportingExecutor(), shared);
    const b = runtimeWith(new ReportingExecutor(), shared);
    const task = a.submit({
      jobId: 'job',
      allocationId: 'slot',
      executionId: 'shared-id',
      invokable: () => 1,
    });
    expect(a.getTask('shared-id')).toBe(task);
    expect(b.getTask('shared-id')).toBeUndefined();
    expect(() =>
      b.submit({ jobId: 'job', allocationId: 'slot', executionId: 'shared-id', invokable: () => 2 }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.DUPLICATE_EXECUTION_ID }));
    await task.done;
    expect(a.getTask('shared-id')).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it('an explicit id equal to a live generated one is a duplicate; getTask finds either form', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const executor: Executor = {
      name: 'held',
      capabilities: { hardStop: false, diagnostics: false, isolation: 'none' },
      launch: () => ({ started: Promise.resolve(), result: held, cancel: () => undefined }),
      close: async () => undefined,
    };
    const heldRuntime = runtimeWith(executor);
    const task = heldRuntime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 });
    const id = task.executionId;
    expect(heldRuntime.getTask(id)).toBe(task);
    expect(() =>
      heldRuntime.submit({ jobId: 'job', allocationId: 'slot', executionId: id, invokable: () => 1 }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.DUPLICATE_EXECUTION_ID, executionId: id }));
    expect(heldRuntime.getTask(`${id}x`)).toBeUndefined();
    release();
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
    await retry.done;
    await heldRuntime.close();
  });

  it('a slot table without findTask: the runtime keeps its own index', async () => {
    const inner = newTable();
    // Everything but findTask, as a custom table written against the interface would be.
    const custom: TaskSlotTable = {
      numberOfSlots: inner.numberOfSlots,
      allocateSlot: (request) => inner.allocateSlot(request),
      markSlotActive: (id) => inner.markSlotActive(id),
      markSlotInactive: (id, ms) => inner.markSlotInactive(id, ms),
      freeSlot: (id, cause) => inner.freeSlot(id, cause),
      isAllocated: (index, job, id) => inner.isAllocated(index, job, id),
      isActive: (id, job) => inner.isActive(id, job),
      getAllocationIds: (job) => inner.getAllocationIds(job),
      getTasks: (id) => inner.getTasks(id),
      getSlotReport: () => inner.getSlotReport(),
      checkInvariants: () => inner.checkInvariants(),
      addTask: (task: Task) => inner.addTask(task),
      close: (cause) => inner.close(cause),
    };
    const runtime = runtimeWith(new ReportingExecutor(), sharing(custom));
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'slot',
      executionId: 'e1',
      invokable: () => 1,
    });
    expect(runtime.getTask('e1')).toBe(task);
    expect(() =>
      runtime.submit({ jobId: 'job', allocationId: 'slot', executionId: 'e1', invokable: () => 1 }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.DUPLICATE_EXECUTION_ID }));
    await task.done;
    expect(runtime.getTask('e1')).toBeUndefined();
    await runtime.close();
  });

  it('a task also attached to a second table leaves both when it is done', async () => {
    const runtime = runtimeWith(new ReportingExecutor());
    const second = newTable();
    second.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
    second.markSlotActive('slot');
    let release: (value: unknown) => void = () => undefined;
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'slot',
      invokable: () => new Promise((resolve) => (release = resolve)),
    });
    second.addTask(task);
    await Promise.resolve(); // launched
    release('done');
    await task.done;
    await Promise.resolve(); // the second table follows through `done`, one reaction later
    expect(runtime.slotTable.getTasks('slot')).toEqual([]);
    expect(second.getTasks('slot')).toEqual([]);
    second.checkInvariants();
    await Promise.all([runtime.close(), second.close()]);
  });

  it("a foreign task in the shared table is not the runtime's", () => {
    const table = newTable();
    const runtime = runtimeWith(new ReportingExecutor(), sharing(table));
    const fake = new FakeTask('fake', 'job', 'slot');
    table.addTask(fake);
    expect(table.findTask('fake')).toBe(fake);
    expect(runtime.getTask('fake')).toBeUndefined();
    fake.finish();
    return runtime.close();
  });
});
