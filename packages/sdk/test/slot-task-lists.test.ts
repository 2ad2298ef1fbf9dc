// A slot's tasks are a list through the runtime's tasks themselves (SlotLink) and through a node of
// their own for any other Task. Both kinds share one list, in attachment order; a runtime task that
// another table attaches too gets a node there; the per-job lists of slots keep allocation order.
import 'reflect-metadata';
import { EventEmitter } from 'eventemitter3';
import pino from 'pino';
import { container as rootContainer } from 'tsyringe';
import { afterEach, describe, expect, it } from 'vitest';
import type { Execution, Executor, LaunchSpec, Task, TaskRuntime, TaskSlotTable } from '../src/index.js';
import { createRuntime, DefaultTaskSlotTable, EmitOnlyFatalErrorHandler, Tokens } from '../src/index.js';
import { FakeTask, ManualScheduler } from '../src/testing/index.js';

const silent = pino({ level: 'silent' });

/** Work that runs until the test ends it (or it is cancelled). */
class HeldExecutor implements Executor {
  readonly name = 'held';
  readonly capabilities = { hardStop: false, diagnostics: false, isolation: 'none' } as const;
  readonly specs: LaunchSpec[] = [];

  launch(spec: LaunchSpec): Execution {
    this.specs.push(spec);
    spec.report.running();
    return { cancel: (reason) => spec.report.failed(reason) };
  }

  /** Ends the work of the `n`th launched task. */
  finish(n: number): void {
    this.specs[n]?.report.finished(n);
  }

  async close(): Promise<void> {}
}

const runtimes: TaskRuntime[] = [];
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.close();
});

function setup(
  table = new DefaultTaskSlotTable({ numberOfSlots: 2 }, new ManualScheduler(), new EventEmitter(), silent),
) {
  const container = rootContainer.createChildContainer();
  container.registerInstance<TaskSlotTable>(Tokens.TaskSlotTable, table);
  const executor = new HeldExecutor();
  const runtime = createRuntime({
    numberOfSlots: 2,
    executors: { held: executor },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: silent,
    container,
  });
  runtimes.push(runtime);
  return { runtime, table, executor };
}

const ids = (tasks: Task[]) => tasks.map((task) => task.executionId);

describe("a slot's list of tasks", () => {
  it('holds runtime tasks and other tasks in attachment order, and frees the slot after the last', async () => {
    const { runtime, table, executor } = setup();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a' });
    table.markSlotActive('a');
    const submit = (executionId: string) =>
      runtime.submit({ jobId: 'job', allocationId: 'a', executionId, invokable: () => 0 });
    const first = submit('r1');
    const fake1 = new FakeTask('f1', 'job', 'a', table);
    table.addTask(fake1);
    const second = submit('r2');
    const fake2 = new FakeTask('f2', 'job', 'a', table);
    table.addTask(fake2);
    table.addTask(fake2); // a repeat is a no-op
    table.addTask(first); // so is attaching a runtime task again
    expect(ids(table.getTasks('a'))).toEqual(['r1', 'f1', 'r2', 'f2']);
    table.checkInvariants();

    await Promise.resolve();
    executor.finish(0);
    await first.done;
    expect(ids(table.getTasks('a'))).toEqual(['f1', 'r2', 'f2']);
    fake2.finish();
    expect(ids(table.getTasks('a'))).toEqual(['f1', 'r2']);
    table.checkInvariants();

    expect(table.freeSlot('a')).toBe(-1);
    expect(fake1.failures).toHaveLength(1);
    expect((await second.done).state).toBe('FAILED');
    expect(table.getSlotReport()[0]?.state).toBe('RELEASING');
    fake1.finish();
    expect(table.getSlotReport()[0]).toEqual({ index: 0, state: 'FREE' });
    table.checkInvariants();
  });

  it("keeps a runtime task that a second table attaches too, until each table's owner detaches it", async () => {
    const { runtime, table, executor } = setup();
    const other = new DefaultTaskSlotTable(
      { numberOfSlots: 1 },
      new ManualScheduler(),
      new EventEmitter(),
      silent,
    );
    for (const t of [table, other]) {
      t.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a' });
      t.markSlotActive('a');
    }
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'a',
      executionId: 'shared',
      invokable: () => 0,
    });
    other.addTask(task);
    expect(ids(other.getTasks('a'))).toEqual(['shared']);
    await Promise.resolve();
    executor.finish(0);
    await task.done;
    // The runtime detached it from its own table only.
    expect(table.getTasks('a')).toEqual([]);
    expect(ids(other.getTasks('a'))).toEqual(['shared']);
    other.checkInvariants();
    other.removeTask(task);
    other.removeTask(task);
    expect(other.getTasks('a')).toEqual([]);
    expect(other.freeSlot('a')).toBe(0);
    other.checkInvariants();
    table.checkInvariants();
  });

  it('removeTask of a task attached nowhere, or to another table, changes nothing', async () => {
    const { runtime, table } = setup();
    table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'r' });
    table.markSlotActive('r');
    const own = runtime.submit({ jobId: 'job', allocationId: 'r', executionId: 'own', invokable: () => 0 });
    const other = new DefaultTaskSlotTable(
      { numberOfSlots: 1 },
      new ManualScheduler(),
      new EventEmitter(),
      silent,
    );
    other.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a' });
    other.markSlotActive('a');
    const fake = new FakeTask('f', 'job', 'a');
    other.addTask(fake);
    table.removeTask(fake);
    expect(ids(other.getTasks('a'))).toEqual(['f']);
    // A runtime task linked into `table` is not `other`'s to detach.
    other.removeTask(own);
    expect(ids(table.getTasks('r'))).toEqual(['own']);
    other.checkInvariants();
    table.checkInvariants();
  });
});

describe("a job's list of slots", () => {
  it('lists allocation ids in allocation order through frees at the head, middle and tail', () => {
    const table = new DefaultTaskSlotTable(
      { numberOfSlots: 4 },
      new ManualScheduler(),
      new EventEmitter(),
      silent,
    );
    for (const [index, id] of ['a', 'b', 'c', 'd'].entries())
      table.allocateSlot({ index, jobId: 'job', allocationId: id });
    table.allocateSlot({ index: -1, jobId: 'other', allocationId: 'x' });
    expect(table.getAllocationIds('job')).toEqual(['a', 'b', 'c', 'd']);
    table.freeSlot('b');
    expect(table.getAllocationIds('job')).toEqual(['a', 'c', 'd']);
    table.freeSlot('a');
    table.freeSlot('d');
    expect(table.getAllocationIds('job')).toEqual(['c']);
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'e' });
    expect(table.getAllocationIds('job')).toEqual(['c', 'e']);
    table.checkInvariants();
    table.freeSlot('c');
    table.freeSlot('e');
    expect(table.getAllocationIds('job')).toEqual([]);
    expect(table.getAllocationIds('other')).toEqual(['x']);
    table.checkInvariants();
  });
});
