import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EventEmitter } from 'eventemitter3';
import { pino } from 'pino';
import { container } from 'tsyringe';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DuplicateAllocationError,
  ErrorCode,
  InvalidSlotRequestError,
  SlotNotFoundError,
  SlotOccupiedError,
  TaskSubmissionError,
  TaskwardenError,
} from '../errors.js';
import type { RuntimeEventEmitter, RuntimeEvents, SlotStateChangedEvent } from '../interfaces/events.js';
import { EventsToken } from '../interfaces/events.js';
import type { Logger } from '../interfaces/logger.js';
import { LoggerToken } from '../interfaces/logger.js';
import { RuntimeOptionsToken } from '../interfaces/runtime.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import { SchedulerToken } from '../interfaces/scheduler.js';
import type { AllocateSlotRequest } from '../interfaces/task-slot-table.js';
import { captureLogger, FakeTask, ManualScheduler, ThrowingScheduler } from '../testing/index.js';
import { DefaultTaskSlotTable } from './default-task-slot-table.js';

/** A scheduler that cannot create timers (Flink's "cannot create a thread"). */
function throwingScheduler(): ThrowingScheduler {
  const scheduler = new ThrowingScheduler(new ManualScheduler());
  scheduler.failFrom(1);
  return scheduler;
}

/** Lets `done` callbacks run. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const tables: DefaultTaskSlotTable[] = [];

// Every test ends with the indexes in step, whatever it did.
afterEach(() => {
  for (const table of tables.splice(0)) table.checkInvariants();
});

function setup(options: { numberOfSlots?: number; scheduler?: Scheduler; logger?: Logger } = {}): {
  table: DefaultTaskSlotTable;
  scheduler: ManualScheduler;
  events: RuntimeEventEmitter;
  seen: SlotStateChangedEvent[];
} {
  const scheduler = new ManualScheduler();
  const events: RuntimeEventEmitter = new EventEmitter<RuntimeEvents>();
  const seen: SlotStateChangedEvent[] = [];
  events.on('slotStateChanged', (event) => seen.push(event));
  const table = new DefaultTaskSlotTable(
    { numberOfSlots: options.numberOfSlots ?? 4 },
    options.scheduler ?? scheduler,
    events,
    options.logger ?? pino({ level: 'silent' }),
  );
  tables.push(table);
  return { table, scheduler, events, seen };
}

function stateOf(table: DefaultTaskSlotTable, index: number): string | undefined {
  return table.getSlotReport().find((entry) => entry.index === index)?.state;
}

function activeSlotWithTasks(
  table: DefaultTaskSlotTable,
  count: number,
  allocationId = 'a1',
  index = 0,
): FakeTask[] {
  table.allocateSlot({ index, jobId: 'job', allocationId });
  table.markSlotActive(allocationId);
  const tasks = Array.from(
    { length: count },
    (_, i) => new FakeTask(`${allocationId}-t${i}`, 'job', allocationId, table),
  );
  for (const task of tasks) table.addTask(task);
  return tasks;
}

describe('DefaultTaskSlotTable construction', () => {
  it('rejects a numberOfSlots that is not a non-negative integer, naming it', () => {
    const make = (numberOfSlots: unknown) => () =>
      new DefaultTaskSlotTable(
        { numberOfSlots: numberOfSlots as number },
        new ManualScheduler(),
        new EventEmitter<RuntimeEvents>(),
        pino({ level: 'silent' }),
      );
    expect(make(-1)).toThrow(RangeError);
    expect(make(1.5)).toThrow(/numberOfSlots/);
    expect(make(Number.NaN)).toThrow(RangeError);
    expect(make('4')).toThrow(TypeError);
  });

  it('is built by tsyringe from the runtime tokens', () => {
    const child = container.createChildContainer();
    const scheduler = new ManualScheduler();
    child.registerInstance(RuntimeOptionsToken, { numberOfSlots: 2 });
    child.registerInstance(SchedulerToken, scheduler);
    child.registerInstance(EventsToken, new EventEmitter<RuntimeEvents>());
    child.registerInstance(LoggerToken, pino({ level: 'silent' }));
    const table = child.resolve(DefaultTaskSlotTable);
    tables.push(table);
    expect(table.numberOfSlots).toBe(2);
    table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'a1', timeoutMs: 10 });
    expect(scheduler.pendingCount).toBe(1);
    child.dispose();
  });

  it('lists every static slot as FREE at first, and allows a table of dynamic slots only', () => {
    expect(setup({ numberOfSlots: 3 }).table.getSlotReport()).toEqual([
      { index: 0, state: 'FREE' },
      { index: 1, state: 'FREE' },
      { index: 2, state: 'FREE' },
    ]);
    const { table } = setup({ numberOfSlots: 0 });
    expect(table.getSlotReport()).toEqual([]);
    expect(table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'a1' })).toBe(0);
    expect(() => table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a2' })).toThrow(
      InvalidSlotRequestError,
    );
  });
});

describe('allocateSlot', () => {
  it('allocates a static slot, indexed by index, allocation id and job', () => {
    const { table } = setup();
    expect(table.allocateSlot({ index: 2, jobId: 'job', allocationId: 'a1' })).toBe(2);
    expect(stateOf(table, 2)).toBe('ALLOCATED');
    expect(table.isAllocated(2, 'job', 'a1')).toBe(true);
    expect(table.isAllocated(1, 'job', 'a1')).toBe(false);
    expect(table.isAllocated(2, 'other', 'a1')).toBe(false);
    expect(table.isActive('a1', 'job')).toBe(false);
    expect(table.getAllocationIds('job')).toEqual(['a1']);
    expect(table.getAllocationIds('other')).toEqual([]);
  });

  it('refuses an inconsistent static allocation and changes nothing', () => {
    const { table, scheduler, seen } = setup();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1', timeoutMs: 100 });
    const report = table.getSlotReport();
    const events = seen.length;

    // Same allocation id, another index: FLINK-14589.
    expect(() => table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'a1' })).toThrow(
      DuplicateAllocationError,
    );
    // Same allocation id, another job.
    expect(() => table.allocateSlot({ index: 0, jobId: 'other', allocationId: 'a1' })).toThrow(
      DuplicateAllocationError,
    );
    // Another allocation id, the same index.
    expect(() => table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a2' })).toThrow(
      SlotOccupiedError,
    );

    expect(table.getSlotReport()).toEqual(report);
    expect(seen).toHaveLength(events);
    expect(scheduler.scheduledCount).toBe(1);
    expect(table.isAllocated(1, 'job', 'a1')).toBe(false);
    expect(table.getAllocationIds('other')).toEqual([]);
    expect(table.getAllocationIds('job')).toEqual(['a1']);
  });

  it('carries the context of the conflict on the errors', () => {
    const { table } = setup();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' });
    const duplicate = catchError(() => table.allocateSlot({ index: 1, jobId: 'other', allocationId: 'a1' }));
    expect(duplicate).toBeInstanceOf(DuplicateAllocationError);
    expect(duplicate).toMatchObject({
      code: ErrorCode.DUPLICATE_ALLOCATION,
      allocationId: 'a1',
      existingIndex: 0,
      requestedIndex: 1,
      existingJobId: 'job',
      requestedJobId: 'other',
    });
    const occupied = catchError(() => table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a2' }));
    expect(occupied).toBeInstanceOf(SlotOccupiedError);
    expect(occupied).toMatchObject({
      code: ErrorCode.SLOT_OCCUPIED,
      index: 0,
      occupiedBy: 'a1',
      requestedBy: 'a2',
    });
  });

  it('refuses an inconsistent dynamic allocation and changes nothing', () => {
    const { table } = setup({ numberOfSlots: 2 });
    expect(table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'a1' })).toBe(2);
    const report = table.getSlotReport();
    expect(() => table.allocateSlot({ index: -1, jobId: 'other', allocationId: 'a1' })).toThrow(
      DuplicateAllocationError,
    );
    // A static request for an allocation that holds a dynamic slot is another index.
    expect(() => table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' })).toThrow(
      DuplicateAllocationError,
    );
    expect(table.getSlotReport()).toEqual(report);
    expect(stateOf(table, 0)).toBe('FREE');
  });

  it('treats an exact repeat of a static allocation as a no-op success without a second timeout', () => {
    const { table, scheduler, seen } = setup();
    expect(table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'a1', timeoutMs: 100 })).toBe(1);
    expect(table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'a1', timeoutMs: 100 })).toBe(1);
    expect(table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'a1', timeoutMs: 5 })).toBe(1);
    expect(table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'a1' })).toBe(1);
    expect(scheduler.scheduledCount).toBe(1);
    expect(seen).toHaveLength(1);
    // The first request's timeout stands: the repeat with 5 ms did not shorten it.
    scheduler.advance(99);
    expect(stateOf(table, 1)).toBe('ALLOCATED');
    scheduler.advance(1);
    expect(stateOf(table, 1)).toBe('FREE');
  });

  it('treats an exact repeat of an ACTIVE allocation as a no-op success', () => {
    const { table, scheduler, seen } = setup();
    table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'a1' });
    table.markSlotActive('a1');
    expect(table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'a1', timeoutMs: 10 })).toBe(1);
    expect(stateOf(table, 1)).toBe('ACTIVE');
    expect(scheduler.scheduledCount).toBe(0);
    expect(seen.map((event) => event.to)).toEqual(['ALLOCATED', 'ACTIVE']);
  });

  it('treats a repeated dynamic request as a no-op success without a second timeout', () => {
    const { table, scheduler } = setup({ numberOfSlots: 2 });
    const index = table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'a1', timeoutMs: 100 });
    expect(table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'a1', timeoutMs: 100 })).toBe(index);
    expect(scheduler.scheduledCount).toBe(1);
    expect(table.getSlotReport().filter((entry) => entry.index >= 2)).toEqual([
      { index, state: 'ALLOCATED', allocationId: 'a1', jobId: 'job' },
    ]);
  });

  it('refuses a dynamic request for an allocation that holds a static slot', () => {
    const { table } = setup();
    table.allocateSlot({ index: 3, jobId: 'job', allocationId: 'a1' });
    expect(() => table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'a1' })).toThrow(
      DuplicateAllocationError,
    );
    expect(table.getSlotReport()).toHaveLength(4);
  });

  it('gives every malformed request an InvalidSlotRequestError naming the field', () => {
    const { table } = setup({ numberOfSlots: 4 });
    const ok = { index: 0, jobId: 'job', allocationId: 'a1' };
    const cases: Array<[unknown, string]> = [
      [null, 'request'],
      [undefined, 'request'],
      ['slot 0', 'request'],
      [{ ...ok, index: 1.5 }, 'index'],
      [{ ...ok, index: Number.NaN }, 'index'],
      [{ ...ok, index: '0' }, 'index'],
      [{ ...ok, index: undefined }, 'index'],
      [{ ...ok, index: -2 }, 'index'],
      [{ ...ok, index: 4 }, 'index'],
      [{ ...ok, index: Number.POSITIVE_INFINITY }, 'index'],
      [{ ...ok, jobId: '' }, 'jobId'],
      [{ ...ok, jobId: 7 }, 'jobId'],
      [{ ...ok, jobId: undefined }, 'jobId'],
      [{ ...ok, allocationId: '' }, 'allocationId'],
      [{ ...ok, allocationId: {} }, 'allocationId'],
      [{ ...ok, timeoutMs: -1 }, 'timeoutMs'],
      [{ ...ok, timeoutMs: Number.NaN }, 'timeoutMs'],
      [{ ...ok, timeoutMs: Number.POSITIVE_INFINITY }, 'timeoutMs'],
      [{ ...ok, timeoutMs: '10' }, 'timeoutMs'],
      [{ ...ok, timeoutMs: null }, 'timeoutMs'],
    ];
    for (const [request, field] of cases) {
      const error = catchError(() => table.allocateSlot(request as AllocateSlotRequest));
      expect(error, JSON.stringify(request)).toBeInstanceOf(InvalidSlotRequestError);
      expect((error as InvalidSlotRequestError).field, JSON.stringify(request)).toBe(field);
      expect((error as InvalidSlotRequestError).code).toBe(ErrorCode.INVALID_SLOT_REQUEST);
    }
    expect(table.getSlotReport().every((entry) => entry.state === 'FREE')).toBe(true);
    // A timeout of 0 is valid: it fires on the next turn of the scheduler.
    expect(table.allocateSlot({ ...ok, timeoutMs: 0 })).toBe(0);
  });

  it('leaves the table unchanged when the timeout cannot be armed', () => {
    const { table } = setup({ numberOfSlots: 2, scheduler: throwingScheduler() });
    expect(() => table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1', timeoutMs: 10 })).toThrow(
      'cannot create a timer',
    );
    expect(() => table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'a2', timeoutMs: 10 })).toThrow(
      'cannot create a timer',
    );
    expect(table.getSlotReport()).toEqual([
      { index: 0, state: 'FREE' },
      { index: 1, state: 'FREE' },
    ]);
    expect(table.getAllocationIds('job')).toEqual([]);
    // The dynamic index was not consumed by the failed request.
    expect(table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'a2' })).toBe(2);
  });
});

describe('dynamic slot ids', () => {
  it('hands out indexes from numberOfSlots up and reuses the most recently freed one first', () => {
    const { table } = setup({ numberOfSlots: 2 });
    expect(table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'd1' })).toBe(2);
    expect(table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'd2' })).toBe(3);
    expect(table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'd3' })).toBe(4);
    expect(table.freeSlot('d1')).toBe(2);
    expect(table.freeSlot('d2')).toBe(3);
    expect(table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'd4' })).toBe(3);
    expect(table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'd5' })).toBe(2);
    expect(table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'd6' })).toBe(5);
    expect(table.isAllocated(3, 'job', 'd4')).toBe(true);
  });

  it('lists dynamic slots in the report only while they are held', () => {
    const { table } = setup({ numberOfSlots: 1 });
    table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'd1' });
    table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'd2' });
    table.freeSlot('d1');
    expect(table.getSlotReport()).toEqual([
      { index: 0, state: 'FREE' },
      { index: 2, state: 'ALLOCATED', allocationId: 'd2', jobId: 'job' },
    ]);
    table.freeSlot('d2');
    expect(table.getSlotReport()).toEqual([{ index: 0, state: 'FREE' }]);
  });
});

describe('getSlotReport', () => {
  it('reports every state, sorted by index, with ids only for held slots', async () => {
    const { table } = setup({ numberOfSlots: 4 });
    table.allocateSlot({ index: 3, jobId: 'j1', allocationId: 'a3' });
    const [task] = activeSlotWithTasks(table, 1, 'a1', 1);
    table.allocateSlot({ index: -1, jobId: 'j2', allocationId: 'd1' });
    table.markSlotActive('d1');
    table.freeSlot('a1');
    expect(table.getSlotReport()).toEqual([
      { index: 0, state: 'FREE' },
      { index: 1, state: 'RELEASING', allocationId: 'a1', jobId: 'job' },
      { index: 2, state: 'FREE' },
      { index: 3, state: 'ALLOCATED', allocationId: 'a3', jobId: 'j1' },
      { index: 4, state: 'ACTIVE', allocationId: 'd1', jobId: 'j2' },
    ]);
    expect(Object.keys(table.getSlotReport()[0] ?? {})).toEqual(['index', 'state']);
    task?.finish();
    await flush();
  });
});

describe('timeouts', () => {
  it('frees an allocated slot that is not activated in time', () => {
    const { table, scheduler, seen } = setup();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1', timeoutMs: 100 });
    scheduler.advance(99);
    expect(stateOf(table, 0)).toBe('ALLOCATED');
    scheduler.advance(1);
    expect(stateOf(table, 0)).toBe('FREE');
    expect(table.getAllocationIds('job')).toEqual([]);
    expect(seen.map(({ from, to }) => `${from}>${to}`)).toEqual(['FREE>ALLOCATED', 'ALLOCATED>FREE']);
    expect(() => table.markSlotActive('a1')).toThrow(SlotNotFoundError);
  });

  it('cancels the timeout when the slot is activated', () => {
    const { table, scheduler } = setup();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1', timeoutMs: 100 });
    expect(table.markSlotActive('a1')).toBe(true);
    expect(scheduler.pendingCount).toBe(0);
    scheduler.advance(1_000);
    expect(stateOf(table, 0)).toBe('ACTIVE');
  });

  it('cancels the timeout when the slot is freed', () => {
    const { table, scheduler } = setup();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1', timeoutMs: 100 });
    table.freeSlot('a1');
    expect(scheduler.pendingCount).toBe(0);
  });

  it('ignores a stale timeout even when the scheduler runs a cancelled timer', () => {
    const scheduler = new ManualScheduler({ ignoreCancel: true });
    const { table } = setup({ scheduler });

    // Freed and re-allocated by another allocation: the old timeout must not free the newcomer.
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1', timeoutMs: 100 });
    scheduler.advance(50);
    table.freeSlot('a1');
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a2' });
    // Freed and re-allocated by the same allocation: only the newer timeout counts.
    table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'b1', timeoutMs: 100 });
    table.freeSlot('b1');
    table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'b1', timeoutMs: 100 });
    // Activated, then deactivated with a longer timeout: the first timeout is stale.
    table.allocateSlot({ index: 2, jobId: 'job', allocationId: 'c1', timeoutMs: 100 });
    table.markSlotActive('c1');
    table.markSlotInactive('c1', 200);
    // Activated for good: its timeout is stale.
    table.allocateSlot({ index: 3, jobId: 'job', allocationId: 'e1', timeoutMs: 100 });
    table.markSlotActive('e1');

    scheduler.advance(60); // t = 110: every first timeout has fired
    expect(table.getSlotReport().map((entry) => entry.state)).toEqual([
      'ALLOCATED',
      'ALLOCATED',
      'ALLOCATED',
      'ACTIVE',
    ]);
    scheduler.advance(40); // t = 150: b1's second timeout
    expect(table.getSlotReport().map((entry) => entry.state)).toEqual([
      'ALLOCATED',
      'FREE',
      'ALLOCATED',
      'ACTIVE',
    ]);
    scheduler.advance(100); // t = 250: c1's timeout from markSlotInactive
    expect(table.getSlotReport().map((entry) => entry.state)).toEqual([
      'ALLOCATED',
      'FREE',
      'FREE',
      'ACTIVE',
    ]);
  });

  it('re-arms a timeout with markSlotInactive', () => {
    const { table, scheduler, seen } = setup();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' });
    table.markSlotActive('a1');
    expect(table.markSlotInactive('a1', 100)).toBe(true);
    expect(stateOf(table, 0)).toBe('ALLOCATED');
    expect(table.isActive('a1', 'job')).toBe(false);
    expect(table.isAllocated(0, 'job', 'a1')).toBe(true);
    // On an ALLOCATED slot it replaces the pending timeout (no second timer left behind).
    scheduler.advance(50);
    expect(table.markSlotInactive('a1', 100)).toBe(true);
    expect(scheduler.pendingCount).toBe(1);
    scheduler.advance(99);
    expect(stateOf(table, 0)).toBe('ALLOCATED');
    scheduler.advance(1);
    expect(stateOf(table, 0)).toBe('FREE');
    expect(seen.map((event) => event.to)).toEqual(['ALLOCATED', 'ACTIVE', 'ALLOCATED', 'FREE']);
  });

  it('validates the markSlotInactive timeout and leaves the slot as it was when it cannot be armed', () => {
    const { table } = setup({ scheduler: throwingScheduler() });
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' });
    table.markSlotActive('a1');
    const error = catchError(() => table.markSlotInactive('a1', -5));
    expect(error).toBeInstanceOf(InvalidSlotRequestError);
    expect((error as InvalidSlotRequestError).field).toBe('timeoutMs');
    expect(() => table.markSlotInactive('a1', 10)).toThrow('cannot create a timer');
    expect(stateOf(table, 0)).toBe('ACTIVE');
    expect(() => table.markSlotInactive('unknown', 10)).toThrow(SlotNotFoundError);
  });

  it('fails the tasks of a deactivated slot whose timeout fires', async () => {
    const { table, scheduler } = setup();
    const [task] = activeSlotWithTasks(table, 1);
    table.markSlotInactive('a1', 100);
    scheduler.advance(100);
    expect(stateOf(table, 0)).toBe('RELEASING');
    expect(task?.failures).toHaveLength(1);
    expect(task?.failures[0]).toMatchObject({ code: ErrorCode.SLOT_RELEASED });
    task?.finish();
    await flush();
    expect(stateOf(table, 0)).toBe('FREE');
  });
});

describe('markSlotActive', () => {
  it('is idempotent, false while RELEASING, and throws for an unknown allocation', async () => {
    const { table, seen } = setup();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' });
    expect(table.markSlotActive('a1')).toBe(true);
    expect(table.markSlotActive('a1')).toBe(true);
    expect(seen.filter((event) => event.to === 'ACTIVE')).toHaveLength(1);
    expect(table.isActive('a1', 'job')).toBe(true);
    expect(table.isActive('a1', 'other')).toBe(false);

    const task = new FakeTask('t1', 'job', 'a1', table);
    table.addTask(task);
    table.freeSlot('a1');
    expect(table.markSlotActive('a1')).toBe(false);
    expect(table.markSlotInactive('a1', 10)).toBe(false);
    expect(stateOf(table, 0)).toBe('RELEASING');

    const error = catchError(() => table.markSlotActive('nope'));
    expect(error).toBeInstanceOf(SlotNotFoundError);
    expect(error).toMatchObject({ code: ErrorCode.SLOT_NOT_FOUND, allocationId: 'nope' });
    task.finish();
    await flush();
  });
});

describe('freeSlot', () => {
  it('frees a slot without tasks and returns its index; unknown and repeated frees return -1', () => {
    const { table } = setup();
    table.allocateSlot({ index: 2, jobId: 'job', allocationId: 'a1' });
    table.allocateSlot({ index: 3, jobId: 'job', allocationId: 'a2' });
    table.markSlotActive('a2');
    expect(table.freeSlot('a1')).toBe(2);
    expect(table.freeSlot('a2')).toBe(3);
    expect(table.freeSlot('a1')).toBe(-1);
    expect(table.freeSlot('never')).toBe(-1);
    expect(table.getAllocationIds('job')).toEqual([]);
    expect(table.getTasks('a1')).toEqual([]);
    expect(table.isAllocated(2, 'job', 'a1')).toBe(false);
    // The index and the allocation id can both be used again.
    expect(table.allocateSlot({ index: 2, jobId: 'other', allocationId: 'a2' })).toBe(2);
  });

  it('logs a free of an unknown allocation at debug level', () => {
    const { logger, lines } = captureLogger('debug');
    const { table } = setup({ logger });
    table.freeSlot('ghost');
    expect(lines).toContainEqual(expect.objectContaining({ allocationId: 'ghost', level: 20 }));
  });

  it('moves a slot with running tasks to RELEASING, fails them once, and frees it after the last done', async () => {
    const { table, seen } = setup();
    const tasks = activeSlotWithTasks(table, 2);
    const cause = new Error('job failed over');

    expect(table.freeSlot('a1', cause)).toBe(-1);
    expect(stateOf(table, 0)).toBe('RELEASING');
    expect(tasks.map((task) => task.failures)).toEqual([[cause], [cause]]);
    expect(table.isAllocated(0, 'job', 'a1')).toBe(false);
    expect(table.isActive('a1', 'job')).toBe(false);
    expect(table.getAllocationIds('job')).toEqual(['a1']);

    // Freeing again neither frees nor fails twice.
    expect(table.freeSlot('a1', new Error('again'))).toBe(-1);
    expect(tasks.map((task) => task.failures.length)).toEqual([1, 1]);

    // The slot and its allocation id are still in use until the tasks are done.
    expect(() => table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a2' })).toThrow(
      SlotOccupiedError,
    );
    expect(() => table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' })).toThrow(
      DuplicateAllocationError,
    );
    expect(() => table.addTask(new FakeTask('t9', 'job', 'a1', table))).toThrow(TaskSubmissionError);

    tasks[0]?.finish();
    await flush();
    expect(stateOf(table, 0)).toBe('RELEASING');
    expect(table.getTasks('a1')).toEqual([tasks[1]]);
    tasks[1]?.finish();
    await flush();
    expect(stateOf(table, 0)).toBe('FREE');
    expect(table.getAllocationIds('job')).toEqual([]);
    expect(seen.map(({ from, to }) => `${from}>${to}`)).toEqual([
      'FREE>ALLOCATED',
      'ALLOCATED>ACTIVE',
      'ACTIVE>RELEASING',
      'RELEASING>FREE',
    ]);
  });

  it('fails the tasks with a SLOT_RELEASED error when no cause is given', async () => {
    const { table } = setup();
    const [task] = activeSlotWithTasks(table, 1);
    table.freeSlot('a1');
    const cause = task?.failures[0];
    expect(cause).toBeInstanceOf(TaskwardenError);
    expect(cause).toMatchObject({ code: ErrorCode.SLOT_RELEASED });
    task?.finish();
    await flush();
  });

  it('keeps releasing the other tasks when one of them throws from fail()', async () => {
    const { table } = setup();
    const [bad, good] = activeSlotWithTasks(table, 2);
    if (bad === undefined || good === undefined) throw new Error('unreachable');
    bad.fail = () => {
      throw new Error('broken task');
    };
    expect(table.freeSlot('a1')).toBe(-1);
    expect(good.failures).toHaveLength(1);
    bad.finish();
    good.finish();
    await flush();
    expect(stateOf(table, 0)).toBe('FREE');
  });

  it('frees a dynamic slot after its tasks and gives its index back', async () => {
    const { table } = setup({ numberOfSlots: 1 });
    const [task] = activeSlotWithTasks(table, 1, 'd1', -1);
    expect(table.freeSlot('d1')).toBe(-1);
    expect(table.getSlotReport()).toContainEqual({
      index: 1,
      state: 'RELEASING',
      allocationId: 'd1',
      jobId: 'job',
    });
    task?.finish();
    await flush();
    expect(table.getSlotReport()).toEqual([{ index: 0, state: 'FREE' }]);
    expect(table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'd2' })).toBe(1);
  });
});

describe('addTask', () => {
  it('attaches a task to its ACTIVE slot and detaches it when done', async () => {
    const { table } = setup();
    const [task] = activeSlotWithTasks(table, 1);
    expect(table.getTasks('a1')).toEqual([task]);
    // The same task twice is a no-op.
    if (task !== undefined) table.addTask(task);
    expect(table.getTasks('a1')).toHaveLength(1);
    task?.finish();
    await flush();
    expect(table.getTasks('a1')).toEqual([]);
    expect(stateOf(table, 0)).toBe('ACTIVE');
    expect(table.getTasks('unknown')).toEqual([]);
  });

  it('refuses a task without an ACTIVE slot of its job', () => {
    const { table } = setup();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'allocated' });
    table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'active' });
    table.markSlotActive('active');
    const refused = [
      new FakeTask('t1', 'job', 'unknown', table),
      new FakeTask('t2', 'job', 'allocated', table),
      new FakeTask('t3', 'other-job', 'active', table),
    ];
    for (const task of refused) {
      const error = catchError(() => table.addTask(task));
      expect(error).toBeInstanceOf(TaskSubmissionError);
      expect(error).toMatchObject({ code: ErrorCode.NO_ACTIVE_SLOT, executionId: task.executionId });
    }
    expect(table.getTasks('active')).toEqual([]);
  });

  it("attaching a task object twice is a no-op; ids are not the table's business", async () => {
    const { table } = setup({ numberOfSlots: 2 });
    const [task] = activeSlotWithTasks(table, 1, 'a1', 0);
    if (task === undefined) throw new Error('unreachable');
    table.addTask(task);
    expect(table.getTasks('a1')).toEqual([task]);
    // Another task object with the same execution id is another task: the runtime refuses duplicate
    // ids before it attaches anything, the table only holds tasks.
    table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'a2' });
    table.markSlotActive('a2');
    const twin = new FakeTask('a1-t0', 'job', 'a2', table);
    table.addTask(twin);
    expect(table.getTasks('a2')).toEqual([twin]);
    table.checkInvariants();
    task.finish();
    twin.finish();
    expect(table.getTasks('a1')).toEqual([]);
    expect(table.getTasks('a2')).toEqual([]);
    table.checkInvariants();
  });

  it('removeTask detaches only what is attached; a second removeTask is a no-op', () => {
    const { table } = setup();
    const [task] = activeSlotWithTasks(table, 1);
    if (task === undefined) throw new Error('unreachable');
    table.removeTask(new FakeTask('stranger', 'job', 'a1'));
    expect(table.getTasks('a1')).toEqual([task]);
    table.removeTask(task);
    table.removeTask(task);
    expect(table.getTasks('a1')).toEqual([]);
    expect(table.freeSlot('a1')).toBe(0);
    table.checkInvariants();
  });

  it("lists a slot's tasks oldest first and detaches from the middle, the ends and the only one", async () => {
    const { table } = setup();
    const tasks = activeSlotWithTasks(table, 4);
    const ids = () => table.getTasks('a1').map((task) => task.executionId);
    expect(ids()).toEqual(['a1-t0', 'a1-t1', 'a1-t2', 'a1-t3']);
    for (const [index, expected] of [
      [1, ['a1-t0', 'a1-t2', 'a1-t3']],
      [3, ['a1-t0', 'a1-t2']],
      [0, ['a1-t2']],
      [2, []],
    ] as const) {
      tasks[index]?.finish();
      await flush();
      expect(ids()).toEqual(expected);
      table.checkInvariants();
    }
  });

  it('keeps no reference to a finished task (100 000 tasks through one slot)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { table } = setup();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' });
    table.markSlotActive('a1');

    // Each batch is built in a plain function, so no task stays reachable from this async function's
    // suspended frame (V8 may keep a finished loop's locals there): only the table could hold one.
    const addBatch = (start: number, size: number): WeakRef<FakeTask> => {
      const tasks: FakeTask[] = [];
      for (let i = start; i < start + size; i++) {
        const task = new FakeTask(`t${i}`, 'job', 'a1', table);
        table.addTask(task);
        tasks.push(task);
      }
      const sample = new WeakRef(tasks[0] as FakeTask);
      for (const task of tasks) task.finish();
      return sample;
    };
    const samples: Array<WeakRef<FakeTask>> = [];
    const batch = 1_000;
    for (let start = 0; start < 100_000; start += batch) {
      samples.push(addBatch(start, batch));
      await flush();
      expect(table.getTasks('a1')).toEqual([]);
    }
    // WeakRefs hold their target until the end of the current job; let it end before collecting.
    // Under load one full collection can leave a target for the next one, so allow a few cycles;
    // a leaked reference survives them all.
    const retained = () => samples.filter((ref) => ref.deref() !== undefined);
    for (let cycle = 0; cycle < 10 && retained().length > 0; cycle++) {
      await flush();
      gc();
    }
    expect(retained()).toEqual([]);
  });
});

describe('close', () => {
  it('frees every slot, cancels every timeout, waits for the tasks and refuses new work', async () => {
    const { table, scheduler } = setup({ numberOfSlots: 3 });
    const [task] = activeSlotWithTasks(table, 1, 'busy', 0);
    table.allocateSlot({ index: 1, jobId: 'job', allocationId: 'waiting', timeoutMs: 1_000 });
    table.allocateSlot({ index: -1, jobId: 'job', allocationId: 'dynamic' });
    const cause = new Error('shutting down');

    let closed = false;
    const closing = table.close(cause).then(() => {
      closed = true;
    });
    expect(table.close()).toBe(table.close());
    expect(scheduler.pendingCount).toBe(0);
    expect(task?.failures).toEqual([cause]);
    expect(table.getSlotReport()).toEqual([
      { index: 0, state: 'RELEASING', allocationId: 'busy', jobId: 'job' },
      { index: 1, state: 'FREE' },
      { index: 2, state: 'FREE' },
    ]);

    const refused = catchError(() => table.allocateSlot({ index: 2, jobId: 'job', allocationId: 'late' }));
    expect(refused).toBeInstanceOf(TaskwardenError);
    expect(refused).toMatchObject({ code: ErrorCode.RUNTIME_CLOSED });
    expect(() => table.addTask(new FakeTask('t9', 'job', 'busy', table))).toThrow(TaskSubmissionError);

    await flush();
    expect(closed).toBe(false);
    task?.finish();
    await closing;
    expect(table.getSlotReport().every((entry) => entry.state === 'FREE')).toBe(true);
    expect(table.getAllocationIds('job')).toEqual([]);
  });

  it('resolves at once when no task is attached', async () => {
    const { table } = setup();
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' });
    await table.close();
    expect(stateOf(table, 0)).toBe('FREE');
  });
});

describe('events and logs', () => {
  it('emits every state change in order with the slot, allocation and job', async () => {
    const { table, scheduler, seen } = setup({ numberOfSlots: 2 });
    table.allocateSlot({ index: 1, jobId: 'j1', allocationId: 'a1' });
    table.markSlotActive('a1');
    table.markSlotInactive('a1', 10);
    table.markSlotActive('a1');
    const task = new FakeTask('t1', 'j1', 'a1', table);
    table.addTask(task);
    table.freeSlot('a1');
    task.finish();
    await flush();
    table.allocateSlot({ index: -1, jobId: 'j2', allocationId: 'd1', timeoutMs: 5 });
    scheduler.advance(5);
    expect(seen).toEqual([
      { index: 1, allocationId: 'a1', jobId: 'j1', from: 'FREE', to: 'ALLOCATED' },
      { index: 1, allocationId: 'a1', jobId: 'j1', from: 'ALLOCATED', to: 'ACTIVE' },
      { index: 1, allocationId: 'a1', jobId: 'j1', from: 'ACTIVE', to: 'ALLOCATED' },
      { index: 1, allocationId: 'a1', jobId: 'j1', from: 'ALLOCATED', to: 'ACTIVE' },
      { index: 1, allocationId: 'a1', jobId: 'j1', from: 'ACTIVE', to: 'RELEASING' },
      { index: 1, allocationId: 'a1', jobId: 'j1', from: 'RELEASING', to: 'FREE' },
      { index: 2, allocationId: 'd1', jobId: 'j2', from: 'FREE', to: 'ALLOCATED' },
      { index: 2, allocationId: 'd1', jobId: 'j2', from: 'ALLOCATED', to: 'FREE' },
    ]);
  });

  it('lets listeners see a consistent table', () => {
    const { table, events } = setup();
    const observed: boolean[] = [];
    events.on('slotStateChanged', ({ allocationId, jobId, index, to }) => {
      table.checkInvariants();
      observed.push(
        to === 'FREE'
          ? !table.isAllocated(index, jobId, allocationId)
          : table.getAllocationIds(jobId).includes(allocationId),
      );
    });
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' });
    table.markSlotActive('a1');
    table.freeSlot('a1');
    expect(observed).toEqual([true, true, true]);
  });

  it('survives a listener that throws, and logs it', () => {
    const { logger, lines } = captureLogger('error');
    const { table, events } = setup({ logger });
    events.on('slotStateChanged', () => {
      throw new Error('listener bug');
    });
    expect(table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' })).toBe(0);
    expect(table.markSlotActive('a1')).toBe(true);
    expect(table.freeSlot('a1')).toBe(0);
    expect(stateOf(table, 0)).toBe('FREE');
    expect(lines.filter((line) => line.msg === 'a slotStateChanged listener threw')).toHaveLength(3);
  });

  it('logs every state change at debug level', () => {
    const { logger, lines } = captureLogger('debug');
    const { table } = setup({ logger });
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' });
    table.freeSlot('a1');
    expect(lines.filter((line) => line.msg === 'slot state changed')).toEqual([
      expect.objectContaining({ index: 0, allocationId: 'a1', jobId: 'job', from: 'FREE', to: 'ALLOCATED' }),
      expect.objectContaining({ index: 0, allocationId: 'a1', jobId: 'job', from: 'ALLOCATED', to: 'FREE' }),
    ]);
  });
});

describe('checkInvariants', () => {
  it('passes on a fresh table, a busy one, and one that was closed', async () => {
    const { table, scheduler } = setup({ numberOfSlots: 3 });
    table.checkInvariants();
    const [task] = activeSlotWithTasks(table, 1, 'a1', 0);
    table.allocateSlot({ index: 1, jobId: 'j2', allocationId: 'a2', timeoutMs: 10 });
    table.allocateSlot({ index: -1, jobId: 'j2', allocationId: 'd1' });
    table.checkInvariants();
    scheduler.advance(10);
    table.freeSlot('a1');
    table.checkInvariants();
    const closing = table.close();
    table.checkInvariants();
    task?.finish();
    await closing;
    table.checkInvariants();
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('listeners see a consistent table', () => {
  it('checkInvariants() holds inside the RELEASING → FREE event', async () => {
    const { table, events } = setup();
    const seen: string[] = [];
    events.on('slotStateChanged', ({ from, to }) => {
      table.checkInvariants();
      seen.push(`${from}->${to}`);
    });
    table.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a1' });
    table.markSlotActive('a1');
    const task = new FakeTask('t1', 'job', 'a1', table);
    table.addTask(task);
    expect(table.freeSlot('a1')).toBe(-1);
    task.finish();
    await flush();
    expect(seen).toEqual(['FREE->ALLOCATED', 'ALLOCATED->ACTIVE', 'ACTIVE->RELEASING', 'RELEASING->FREE']);
  });
});
