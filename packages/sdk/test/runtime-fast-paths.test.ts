// The inline hot path's shortcuts keep the public semantics: an executor that reports its outcome
// inside launch(), the runtime's listener bookkeeping, and live-task lookup through the slot table.
import 'reflect-metadata';
import { EventEmitter } from 'eventemitter3';
import pino from 'pino';
import { container as rootContainer } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import type {
  Execution,
  Executor,
  LaunchSpec,
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
import { REPORT_OUTCOME } from '../src/internal/index.js';
import { FakeTask, ManualScheduler } from '../src/testing/index.js';

const silent = pino({ level: 'silent' });

/** Runs a function inside launch() and reports its outcome there, like the inline executor. */
class ReportingExecutor implements Executor {
  readonly name = 'reporting';
  readonly capabilities = { hardStop: false, diagnostics: false, isolation: 'none' } as const;
  resultReads = 0;

  launch(spec: LaunchSpec): Execution {
    const report = (spec as OutcomeReporter)[REPORT_OUTCOME];
    if (typeof report !== 'function') throw new Error('the runtime offers no outcome report');
    const executor = this;
    const invoke = spec.invokable as (input: unknown) => unknown;
    spec.onRunning();
    let ok = true;
    let value: unknown;
    try {
      value = invoke(spec.input);
    } catch (error) {
      ok = false;
      value = error;
    }
    report.call(spec, ok, value);
    return {
      started: Promise.resolve(),
      get result() {
        executor.resultReads++;
        return ok ? Promise.resolve(value) : Promise.reject(value);
      },
      cancel: () => undefined,
    };
  }

  async close(): Promise<void> {}
}

function runtimeWith(executor: Executor) {
  const runtime = createRuntime({
    numberOfSlots: 1,
    executors: { main: executor },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: silent,
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  return runtime;
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
    const parent = rootContainer.createChildContainer();
    const table = new DefaultTaskSlotTable(
      { numberOfSlots: 2 },
      new ManualScheduler(),
      new EventEmitter(),
      silent,
    );
    parent.registerInstance<TaskSlotTable>(Tokens.TaskSlotTable, table);
    const make = () =>
      createRuntime({
        numberOfSlots: 2,
        executors: { main: new ReportingExecutor() },
        fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
        logger: silent,
        container: parent,
      });
    const a = make();
    const b = make();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
    table.markSlotActive('slot');
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
    const runtime = runtimeWith(new ReportingExecutor());
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
    await Promise.all([runtime.close(), heldRuntime.close()]);
  });

  it('a slot table without findTask: the runtime keeps its own index', async () => {
    const parent = rootContainer.createChildContainer();
    const inner = new DefaultTaskSlotTable(
      { numberOfSlots: 1 },
      new ManualScheduler(),
      new EventEmitter(),
      silent,
    );
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
    parent.registerInstance<TaskSlotTable>(Tokens.TaskSlotTable, custom);
    const runtime = createRuntime({
      numberOfSlots: 1,
      executors: { main: new ReportingExecutor() },
      fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
      logger: silent,
      container: parent,
    });
    custom.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
    custom.markSlotActive('slot');
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

  it("a foreign task in the shared table is not the runtime's", () => {
    const parent = rootContainer.createChildContainer();
    const table = new DefaultTaskSlotTable(
      { numberOfSlots: 1 },
      new ManualScheduler(),
      new EventEmitter(),
      silent,
    );
    parent.registerInstance<TaskSlotTable>(Tokens.TaskSlotTable, table);
    const runtime = createRuntime({
      numberOfSlots: 1,
      executors: { main: new ReportingExecutor() },
      logger: silent,
      container: parent,
    });
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
    table.markSlotActive('slot');
    const fake = new FakeTask('fake', 'job', 'slot');
    table.addTask(fake);
    expect(table.findTask('fake')).toBe(fake);
    expect(runtime.getTask('fake')).toBeUndefined();
    fake.finish();
    return runtime.close();
  });
});
