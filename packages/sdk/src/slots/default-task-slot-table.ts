/**
 * The default {@link TaskSlotTable}.
 *
 * @example
 * ```ts
 * const table = new DefaultTaskSlotTable({ numberOfSlots: 4 }, new SystemScheduler(), events, logger);
 * const index = table.allocateSlot({ index: -1, jobId: 'job-1', allocationId: 'a-1', timeoutMs: 10_000 });
 * table.markSlotActive('a-1');
 * table.freeSlot('a-1'); // → index
 * ```
 * @module
 */
import { inject, injectable } from 'tsyringe';
import {
  DuplicateAllocationError,
  InvalidSlotRequestError,
  NoActiveSlotError,
  RuntimeClosedError,
  SlotNotFoundError,
  SlotOccupiedError,
  SlotReleasedError,
} from '../errors.js';
import type { RuntimeEventEmitter, SlotStateChangedEvent } from '../interfaces/events.js';
import { EventsToken } from '../interfaces/events.js';
import type { Logger } from '../interfaces/logger.js';
import { LoggerToken } from '../interfaces/logger.js';
import type { RuntimeOptions } from '../interfaces/runtime.js';
import { RuntimeOptionsToken } from '../interfaces/runtime.js';
import type { ScheduledTimer, Scheduler } from '../interfaces/scheduler.js';
import { SchedulerToken } from '../interfaces/scheduler.js';
import type { Task } from '../interfaces/task.js';
import type {
  AllocateSlotRequest,
  SlotReportEntry,
  SlotState,
  TaskSlotTable,
} from '../interfaces/task-slot-table.js';
import { logSafely } from '../logging/log-safely.js';
import { IdMap } from '../runtime/id-map.js';
import { MAX_SLOTS, MAX_TIMER_MS } from '../runtime/options.js';
import { RuntimeEventEmitterImpl } from '../runtime/runtime-event-emitter.js';
import { ForeignSlotLink, SlotLink } from './slot-link.js';

/**
 * Every slot transition the table makes: FREE → ALLOCATED; ALLOCATED and ACTIVE → each other,
 * RELEASING or FREE; RELEASING → FREE. Anything else is a bug in the table, and the single state
 * setter throws on it rather than let the indexes drift apart silently.
 */
function isSlotTransition(from: SlotState, to: SlotState): boolean {
  switch (from) {
    case 'FREE':
      return to === 'ALLOCATED';
    case 'ALLOCATED':
      return to === 'ACTIVE' || to === 'RELEASING' || to === 'FREE';
    case 'ACTIVE':
      return to === 'ALLOCATED' || to === 'RELEASING' || to === 'FREE';
    case 'RELEASING':
      return to === 'FREE';
    default:
      return false;
  }
}

/** The tasks attached to `slot`, oldest first (a fresh array). */
function tasksOf(slot: Slot): Task[] {
  const tasks: Task[] = [];
  for (let node = slot.head; node !== undefined; node = node.slotNext) tasks.push(node.linkedTask);
  return tasks;
}

/**
 * The held slots of one job, oldest allocation first: a list that runs through the slots themselves,
 * so allocating and freeing add no hashing beyond finding the job. An entry exists only while the job
 * holds a slot.
 */
interface JobSlots {
  head: Slot | undefined;
  tail: Slot | undefined;
  count: number;
}

/** One slot. Static slots live for the table's lifetime; dynamic ones only while held. */
interface Slot {
  /** Set when the slot is taken from the pool (static slots) or made (dynamic ones). */
  index: number;
  state: SlotState;
  allocationId: string | undefined;
  jobId: string | undefined;
  /** The previous held slot of the same job (see {@link JobSlots}). */
  jobPrev: Slot | undefined;
  /** The next held slot of the same job. */
  jobNext: Slot | undefined;
  /** The table the slot belongs to (a task's node names its slot; see `removeTask`). */
  readonly table: DefaultTaskSlotTable;
  /**
   * Attached tasks in attachment order: a list that runs through the tasks' {@link SlotLink} nodes,
   * so attaching and detaching are O(1) and hash nothing.
   */
  head: SlotLink | undefined;
  tail: SlotLink | undefined;
  taskCount: number;
  /**
   * True while `freeSlot` fails the slot's tasks: tasks that end synchronously meanwhile (the
   * runtime's do) leave the release to `freeSlot`, so FREE never overtakes RELEASING for listeners.
   */
  freeing: boolean;
  /** The pending allocation timeout; only while ALLOCATED. */
  timer: ScheduledTimer | undefined;
  /**
   * The ticket of the pending timeout, 0 when none. A timer callback that arrives with another ticket
   * is stale (the slot was activated, re-armed, freed or re-allocated meanwhile) and does nothing;
   * cancelling the timer alone is not enough because a scheduler may already have queued it.
   */
  ticket: number;
}

/**
 * The default {@link TaskSlotTable}: static slots `0 … numberOfSlots-1` plus dynamic slots, kept
 * consistent under duplicate, late, reordered and conflicting requests (FLINK-14589: a second
 * request with an allocation id that already holds a slot is refused and changes nothing).
 *
 * Three indexes are kept in step: slot by index, slot by allocation id, allocation ids by job.
 * `allocateSlot`, `markSlotActive`, `markSlotInactive`, `freeSlot`, `addTask` and the per-allocation
 * queries are O(1); only `getSlotReport`, `checkInvariants` and `close` visit the whole table.
 *
 * Decisions beyond the interface:
 * - **Dynamic indexes** (`index: -1`) come from a LIFO free-list of released dynamic indexes and,
 *   when it is empty, from a counter starting at `numberOfSlots`. Indexes are therefore reused (the
 *   most recently freed first) and stay below `numberOfSlots + peak number of dynamic slots held`.
 *   A request never names a dynamic index explicitly: `index >= numberOfSlots` is invalid.
 * - **Order of checks** in `allocateSlot`: request shape (`InvalidSlotRequestError`), closed table,
 *   allocation id already known (exact repeat → its index, anything else →
 *   `DuplicateAllocationError`), index held (`SlotOccupiedError`).
 * - An exact repeat ignores its `timeoutMs`: the first request's timeout stands.
 * - `index: -1` repeats a dynamic allocation; for an allocation holding a static slot it is a
 *   `DuplicateAllocationError` (a dynamic request is a different request).
 * - A request with the allocation id of a RELEASING slot is a `DuplicateAllocationError`, even an
 *   exact repeat: the id is still in use, and answering "allocated" for a slot about to become FREE
 *   would recreate the zombie this table exists to prevent.
 * - After {@link DefaultTaskSlotTable.close}, `allocateSlot` and `addTask` throw
 *   {@link RuntimeClosedError} (code `RUNTIME_CLOSED`).
 * - Unknown request keys (a misspelt `timeout`) are an {@link InvalidSlotRequestError} naming the key.
 * - Tasks are attached by the runtime (`addTask`) and detached by it (`removeTask`) once their `done`
 *   resolved; execution ids are the runtime's business, not the table's.
 * - A `slotStateChanged` listener that throws is logged at error level; the table is already
 *   consistent when events are emitted, so it stays so. (eventemitter3 skips the listeners after the
 *   one that threw.)
 */
@injectable()
export class DefaultTaskSlotTable implements TaskSlotTable {
  /** Number of static slots. */
  readonly numberOfSlots: number;

  readonly #scheduler: Scheduler;
  readonly #events: RuntimeEventEmitter;
  /** The runtime's own emitter, which knows without a lookup whether `slotStateChanged` has listeners. */
  readonly #runtimeEvents: RuntimeEventEmitterImpl | undefined;
  readonly #logger: Logger;
  /** Whether the logger is at debug, while the table follows its level changes; else `undefined`. */
  #debug: boolean | undefined;
  readonly #onLevelChange = (): void => {
    this.#debug = this.#logger.isLevelEnabled('debug');
  };

  /**
   * The held static slots by index; `undefined` is a FREE slot. A slot object exists only while its
   * index is held and is then returned to {@link #slotPool}: a cycle on a large table touches this
   * array and a recently used (cached) object, not one of a hundred thousand objects spread over
   * megabytes (one dependent cache miss less per allocation at 100,000 slots).
   */
  readonly #staticSlots: (Slot | undefined)[];
  /** FREE slot objects for the next static allocation, most recently freed last. */
  readonly #slotPool: Slot[] = [];
  /** Dynamic slots while held (ALLOCATED, ACTIVE or RELEASING). */
  readonly #dynamicSlots = new Map<number, Slot>();
  readonly #freeDynamicIndexes: number[] = [];
  #nextDynamicIndex: number;

  /** Allocation ids arrive fresh from the network: each is hashed once, by its first lookup here. */
  readonly #byAllocation = new IdMap<Slot>();
  /** The nodes of attached tasks that are not {@link SlotLink}s themselves. */
  readonly #foreign = new Map<Task, ForeignSlotLink>();
  readonly #byJob = new IdMap<JobSlots>();

  /** Monotonic: every armed timeout gets a ticket no other timeout ever had. */
  #lastTicket = 0;
  #releasingCount = 0;

  #closed = false;
  #closePromise: Promise<void> | undefined;
  #resolveClose: (() => void) | undefined;

  /**
   * @param options - `numberOfSlots`: a non-negative integer (0 means dynamic slots only).
   * @param scheduler - arms the allocation timeouts.
   * @param events - receives `slotStateChanged`.
   * @param logger - state changes at debug level.
   * @throws TypeError / RangeError naming `numberOfSlots` when it is not a non-negative integer.
   */
  constructor(
    @inject(RuntimeOptionsToken) options: Pick<RuntimeOptions, 'numberOfSlots'>,
    @inject(SchedulerToken) scheduler: Scheduler,
    @inject(EventsToken) events: RuntimeEventEmitter,
    @inject(LoggerToken) logger: Logger,
  ) {
    const numberOfSlots = options?.numberOfSlots;
    if (typeof numberOfSlots !== 'number') {
      throw new TypeError(`numberOfSlots must be a number, got ${typeof numberOfSlots}`);
    }
    if (!Number.isSafeInteger(numberOfSlots) || numberOfSlots < 0 || numberOfSlots > MAX_SLOTS) {
      throw new RangeError(`numberOfSlots must be an integer from 0 to ${MAX_SLOTS}, got ${numberOfSlots}`);
    }
    this.numberOfSlots = numberOfSlots;
    this.#scheduler = scheduler;
    this.#events = events;
    this.#runtimeEvents = events instanceof RuntimeEventEmitterImpl ? events : undefined;
    this.#logger = logger;
    // The level check ran on every transition; pino announces level changes, and the listener goes
    // on close (the logger is the integrator's and may outlive the table). A logger that cannot
    // announce them is asked every time.
    if (typeof logger.on === 'function' && typeof logger.off === 'function') {
      this.#debug = logger.isLevelEnabled('debug');
      logger.on('level-change', this.#onLevelChange);
    }
    this.#nextDynamicIndex = numberOfSlots;
    // Pushed, not `new Array(n)`: V8 gives a large pre-sized array slow (dictionary) elements, which
    // made every slot lookup of a 100 000-slot table slower.
    this.#staticSlots = [];
    for (let index = 0; index < numberOfSlots; index++) this.#staticSlots.push(undefined);
  }

  /**
   * Reserves a slot for an allocation and returns its index.
   *
   * - Exact repeat (same allocation id, job and index, or `-1` for an allocation holding a dynamic
   *   slot) of an ALLOCATED or ACTIVE slot: returns the index; nothing changes, no second timeout.
   * - The allocation id is known otherwise (another index, another job, or its slot is RELEASING):
   *   {@link DuplicateAllocationError}; the table is unchanged.
   * - The index is held by another allocation: {@link SlotOccupiedError}.
   * - A malformed request: {@link InvalidSlotRequestError} naming the field.
   * - The table is closed: {@link RuntimeClosedError} (code `RUNTIME_CLOSED`).
   *
   * With `timeoutMs`, the slot is freed after that long unless it is activated first. If the
   * scheduler throws while arming it, the error propagates and the table is unchanged.
   */
  allocateSlot(request: AllocateSlotRequest): number {
    validateRequest(request, this.numberOfSlots);
    const { index, jobId, allocationId, timeoutMs } = request;
    if (this.#closed) {
      throw new RuntimeClosedError(`the slot table is closed; refusing allocation ${allocationId}`);
    }

    const existing = this.#byAllocation.get(allocationId);
    if (existing !== undefined) {
      const sameIndex = index === existing.index || (index === -1 && existing.index >= this.numberOfSlots);
      if (sameIndex && existing.jobId === jobId && existing.state !== 'RELEASING') return existing.index;
      throw new DuplicateAllocationError({
        allocationId,
        existingIndex: existing.index,
        requestedIndex: index,
        existingJobId: existing.jobId ?? '',
        requestedJobId: jobId,
      });
    }

    let slot: Slot;
    if (index === -1) {
      // Not taken from the free-list yet: arming the timeout may throw, and then nothing may change.
      const free = this.#freeDynamicIndexes;
      slot = newSlot(this, free.length > 0 ? (free[free.length - 1] as number) : this.#nextDynamicIndex);
    } else {
      const held = this.#staticSlots[index];
      if (held !== undefined) {
        throw new SlotOccupiedError({
          index,
          occupiedBy: held.allocationId ?? '',
          requestedBy: allocationId,
        });
      }
      // Not taken from the pool yet, for the same reason.
      const pool = this.#slotPool;
      slot = pool.length > 0 ? (pool[pool.length - 1] as Slot) : newSlot(this, index);
      slot.index = index;
    }

    if (timeoutMs !== undefined) this.#armTimeout(slot, allocationId, timeoutMs);

    if (index === -1) {
      if (this.#freeDynamicIndexes.length > 0) this.#freeDynamicIndexes.pop();
      else this.#nextDynamicIndex++;
      this.#dynamicSlots.set(slot.index, slot);
    } else {
      if (this.#slotPool.length > 0 && this.#slotPool[this.#slotPool.length - 1] === slot)
        this.#slotPool.pop();
      this.#staticSlots[index] = slot;
    }
    slot.allocationId = allocationId;
    slot.jobId = jobId;
    this.#byAllocation.set(allocationId, slot);
    let job = this.#byJob.get(jobId);
    if (job === undefined) {
      job = { head: undefined, tail: undefined, count: 0 };
      this.#byJob.set(jobId, job);
    }
    slot.jobPrev = job.tail;
    if (job.tail === undefined) job.head = slot;
    else job.tail.jobNext = slot;
    job.tail = slot;
    job.count++;
    this.#setState(slot, 'ALLOCATED', allocationId, jobId);
    return slot.index;
  }

  /**
   * ALLOCATED → ACTIVE, cancelling the allocation timeout. Idempotent (true for an ACTIVE slot);
   * false while RELEASING.
   *
   * @throws SlotNotFoundError for an unknown allocation id.
   */
  markSlotActive(allocationId: string): boolean {
    const slot = this.#slotOf(allocationId);
    if (slot.state === 'ACTIVE') return true;
    if (slot.state !== 'ALLOCATED') return false;
    this.#disarmTimeout(slot);
    this.#setState(slot, 'ACTIVE', allocationId, slot.jobId as string);
    return true;
  }

  /**
   * ACTIVE → ALLOCATED with a new timeout of `timeoutMs`; on an ALLOCATED slot the timeout is
   * re-armed with the new value (as Flink does). False while RELEASING. Tasks stay attached; if the
   * timeout fires they are failed like on {@link DefaultTaskSlotTable.freeSlot}.
   *
   * @throws SlotNotFoundError for an unknown allocation id.
   * @throws InvalidSlotRequestError naming `timeoutMs` if it is not a finite number >= 0.
   */
  markSlotInactive(allocationId: string, timeoutMs: number): boolean {
    validateTimeout(timeoutMs);
    const slot = this.#slotOf(allocationId);
    if (slot.state === 'RELEASING') return false;
    // Arm the new timeout before touching the old one, so a scheduler that throws changes nothing.
    const previous = slot.timer;
    this.#armTimeout(slot, allocationId, timeoutMs);
    previous?.cancel();
    if (slot.state === 'ACTIVE') this.#setState(slot, 'ALLOCATED', allocationId, slot.jobId as string);
    return true;
  }

  /**
   * Frees the slot of an allocation.
   *
   * - No tasks attached: the slot becomes FREE and its index is returned.
   * - Tasks attached: the slot becomes RELEASING, every task is failed with `cause` (default: a
   *   {@link SlotReleasedError} (code `SLOT_RELEASED`)) and -1 is returned; the slot becomes FREE
   *   when the last task's `done` resolves. If every task ended while being failed (tasks that had
   *   not started end at once), the slot is FREE when `freeSlot` returns, which returns its index;
   *   listeners always see RELEASING before FREE.
   * - Already RELEASING: -1; tasks are not failed twice.
   * - Unknown allocation id: a no-op returning -1 (logged at debug level). Freeing is idempotent
   *   because frees arrive late and twice in the races this table is built for (as in Flink).
   */
  freeSlot(allocationId: string, cause?: Error): number {
    // An unknown id is a no-op (frees arrive late and twice); a value that can never be an id is a bug.
    if (typeof allocationId !== 'string' || allocationId.length === 0) {
      throw new InvalidSlotRequestError(
        'allocationId',
        `must be a non-empty string, got ${String(allocationId)}`,
      );
    }
    const slot = this.#byAllocation.get(allocationId);
    if (slot === undefined) {
      if (this.#debugEnabled()) {
        this.#logger.debug({ allocationId }, 'freeSlot for an unknown allocation id ignored');
      }
      return -1;
    }
    if (slot.state === 'RELEASING') return -1;
    this.#disarmTimeout(slot);
    if (slot.taskCount === 0) {
      const index = slot.index;
      this.#release(slot);
      return index;
    }

    const jobId = slot.jobId as string;
    this.#releasingCount++;
    slot.freeing = true;
    try {
      this.#setState(slot, 'RELEASING', allocationId, jobId);
      const reason =
        cause ??
        new SlotReleasedError(
          `slot ${slot.index} (allocation ${allocationId}) was freed while its tasks ran`,
          {
            allocationId,
          },
        );
      // A snapshot: a task may finish, or a listener may react, while we iterate.
      for (const task of tasksOf(slot)) {
        try {
          task.fail(reason);
        } catch (error) {
          logSafely(
            this.#logger,
            'error',
            { err: error, executionId: task.executionId, allocationId },
            'task.fail threw while its slot was released',
          );
        }
      }
    } finally {
      slot.freeing = false;
    }
    // Every task ended while it was being failed (tasks that had not started end at once).
    // (A listener may have moved the slot meanwhile; the compiler cannot know, hence the widening.)
    if ((slot.state as SlotState) === 'RELEASING' && slot.taskCount === 0) {
      const index = slot.index;
      this.#release(slot);
      return index;
    }
    return -1;
  }

  /** True when the allocation holds `index` for `jobId` and is ALLOCATED or ACTIVE. */
  isAllocated(index: number, jobId: string, allocationId: string): boolean {
    const slot = this.#byAllocation.get(allocationId);
    return (
      slot !== undefined &&
      slot.index === index &&
      slot.jobId === jobId &&
      (slot.state === 'ALLOCATED' || slot.state === 'ACTIVE')
    );
  }

  /** True when the allocation is ACTIVE for `jobId`. */
  isActive(allocationId: string, jobId: string): boolean {
    const slot = this.#byAllocation.get(allocationId);
    return slot !== undefined && slot.state === 'ACTIVE' && slot.jobId === jobId;
  }

  /** Allocation ids held by the job, in any non-FREE state (RELEASING included); a fresh array. */
  getAllocationIds(jobId: string): string[] {
    const ids: string[] = [];
    const job = this.#byJob.get(jobId);
    if (job === undefined) return ids;
    for (let slot = job.head; slot !== undefined; slot = slot.jobNext) ids.push(slot.allocationId as string);
    return ids;
  }

  /** Tasks attached to the allocation's slot; `[]` for an unknown allocation id. A fresh array. */
  getTasks(allocationId: string): Task[] {
    const slot = this.#byAllocation.get(allocationId);
    return slot === undefined ? [] : tasksOf(slot);
  }

  /**
   * Every static slot, and dynamic slots while held, sorted by index. FREE rows carry no
   * `allocationId` or `jobId`.
   */
  getSlotReport(): SlotReportEntry[] {
    const report: SlotReportEntry[] = [];
    const slots = this.#staticSlots;
    for (let index = 0; index < slots.length; index++) {
      const slot = slots[index];
      report.push(slot === undefined ? { index, state: 'FREE' } : reportEntry(slot));
    }
    const dynamic = Array.from(this.#dynamicSlots.values()).sort((a, b) => a.index - b.index);
    for (const slot of dynamic) report.push(reportEntry(slot));
    return report;
  }

  /**
   * Throws an Error naming the broken invariant if the indexes disagree:
   * each allocation id maps to exactly one slot and that slot names it; each index holds at most one
   * allocation; the per-job index equals the allocation ids of that job with no empty sets; a FREE
   * slot has no allocation id, no tasks and no timeout; a timeout exists only while ALLOCATED; a
   * RELEASING slot still has tasks. Visits the whole table: for tests and debug builds.
   */
  checkInvariants(): void {
    const fail: (invariant: string, detail: string) => never = (invariant, detail) => {
      throw new Error(`slot table invariant broken: ${invariant} (${detail})`);
    };

    let held = 0;
    let releasing = 0;
    let foreignListed = 0;
    const attached = new Set<Task>();
    const visit = (slot: Slot, where: string): void => {
      const at = `${where} slot ${slot.index}`;
      if (slot.state === 'FREE') {
        if (slot.allocationId !== undefined || slot.jobId !== undefined) {
          fail('a FREE slot has no allocation id', `${at} names ${slot.allocationId} of ${slot.jobId}`);
        }
        if (slot.taskCount > 0 || slot.head !== undefined || slot.tail !== undefined) {
          fail('a FREE slot has no tasks', `${at} has ${slot.taskCount}`);
        }
      } else {
        held++;
        if (slot.allocationId === undefined || slot.jobId === undefined) {
          fail('a held slot names its allocation and job', `${at} is ${slot.state} without them`);
        }
        if (this.#byAllocation.get(slot.allocationId) !== slot) {
          fail(
            'each allocation id maps to exactly one slot and that slot names it',
            `${at} names ${slot.allocationId}, which maps to slot ${this.#byAllocation.get(slot.allocationId)?.index}`,
          );
        }
      }
      if (slot.state === 'RELEASING') {
        releasing++;
        if (slot.taskCount === 0 && !slot.freeing) {
          fail('a RELEASING slot still has tasks', `${at} has none and should be FREE`);
        }
      }
      if ((slot.timer !== undefined || slot.ticket !== 0) && slot.state !== 'ALLOCATED') {
        fail('a timeout exists only while ALLOCATED', `${at} is ${slot.state} with a timeout`);
      }
      if ((slot.timer === undefined) !== (slot.ticket === 0)) {
        fail('a timeout has exactly one ticket', `${at}`);
      }
      let listed = 0;
      let previous: SlotLink | undefined;
      for (let node = slot.head; node !== undefined; node = node.slotNext) {
        listed++;
        const task = node.linkedTask;
        if (node.slotHolder !== slot || node.slotPrev !== previous) {
          fail('a slot lists exactly its attached tasks', `${at}: a node names another slot or neighbour`);
        }
        previous = node;
        if (node instanceof ForeignSlotLink) {
          foreignListed++;
          if (this.#foreign.get(task) !== node) {
            fail('each foreign task has one node', `${at} holds ${task.executionId} without an entry`);
          }
        }
        if (task.allocationId !== slot.allocationId) {
          fail(
            'a task sits in the slot of its allocation',
            `${at} holds ${task.executionId} of ${task.allocationId}`,
          );
        }
        if (attached.has(task)) {
          fail('a task is attached to one slot', `${at} holds ${task.executionId} a second time`);
        }
        attached.add(task);
      }
      if (slot.tail !== previous) fail('a slot lists exactly its attached tasks', `${at}: wrong tail`);
      if (listed !== slot.taskCount) {
        fail('a slot counts the tasks it lists', `${at} lists ${listed}, counts ${slot.taskCount}`);
      }
    };

    const inTable = new Set<Slot>();
    this.#staticSlots.forEach((slot, index) => {
      if (slot === undefined) return;
      if (slot.index !== index) fail('each index holds at most one slot', `static slot ${index}`);
      if (slot.state === 'FREE') fail('a FREE static slot is not in the table', `static slot ${index}`);
      if (inTable.has(slot)) fail('a slot object holds one index', `static slot ${index}`);
      inTable.add(slot);
      visit(slot, 'static');
    });
    for (const slot of this.#slotPool) {
      if (inTable.has(slot)) fail('a pooled slot is not held', `slot ${slot.index}`);
      visit(slot, 'pooled');
      if (slot.state !== 'FREE') fail('a pooled slot is FREE', `slot ${slot.index} is ${slot.state}`);
    }
    for (const [index, slot] of this.#dynamicSlots) {
      if (slot.index !== index || index < this.numberOfSlots || index >= this.#nextDynamicIndex) {
        fail('a dynamic slot sits at its own index above the static ones', `dynamic slot ${index}`);
      }
      if (slot.state === 'FREE') fail('dynamic slots are listed only while held', `dynamic slot ${index}`);
      visit(slot, 'dynamic');
    }
    const freeIndexes = new Set(this.#freeDynamicIndexes);
    if (freeIndexes.size !== this.#freeDynamicIndexes.length) {
      fail('a free dynamic index is listed once', this.#freeDynamicIndexes.join(','));
    }
    for (const index of freeIndexes) {
      if (this.#dynamicSlots.has(index) || index < this.numberOfSlots || index >= this.#nextDynamicIndex) {
        fail('a free dynamic index is not held', `index ${index}`);
      }
    }
    if (freeIndexes.size + this.#dynamicSlots.size !== this.#nextDynamicIndex - this.numberOfSlots) {
      fail('every dynamic index ever handed out is held or free', `next ${this.#nextDynamicIndex}`);
    }
    if (foreignListed !== this.#foreign.size) {
      fail('each foreign task has one node', `${foreignListed} listed, ${this.#foreign.size} known`);
    }
    if (held !== this.#byAllocation.size) {
      fail(
        'each allocation id maps to exactly one slot and that slot names it',
        `${held} held slots, ${this.#byAllocation.size} allocation ids`,
      );
    }
    // Every listed slot is distinct, held by its job and counted; with as many listed as held, every
    // held slot is listed under its job.
    let perJob = 0;
    const listedSlots = new Set<Slot>();
    for (const [jobId, job] of this.#byJob.entries()) {
      if (job.count === 0 || job.head === undefined) fail('no empty sets are kept per job', `job ${jobId}`);
      let listed = 0;
      let previous: Slot | undefined;
      for (let slot: Slot | undefined = job.head; slot !== undefined; slot = slot.jobNext) {
        listed++;
        if (listedSlots.has(slot))
          fail('the per-job index equals the allocation ids of that job', `slot ${slot.index} listed twice`);
        listedSlots.add(slot);
        if (
          slot.jobPrev !== previous ||
          slot.jobId !== jobId ||
          slot.state === 'FREE' ||
          this.#byAllocation.get(slot.allocationId as string) !== slot
        ) {
          fail(
            'the per-job index equals the allocation ids of that job',
            `${slot.allocationId} under ${jobId}`,
          );
        }
        previous = slot;
      }
      if (job.tail !== previous || listed !== job.count) {
        fail('the per-job index equals the allocation ids of that job', `job ${jobId} counts ${job.count}`);
      }
      perJob += listed;
    }
    if (perJob !== this.#byAllocation.size) {
      fail(
        'the per-job index equals the allocation ids of that job',
        `${perJob} vs ${this.#byAllocation.size}`,
      );
    }
    if (releasing !== this.#releasingCount) {
      fail('the RELEASING count matches the slots', `${releasing} vs ${this.#releasingCount}`);
    }
  }

  /**
   * Attaches a task to the ACTIVE slot of `task.allocationId`, which must belong to `task.jobId`. The
   * task stays until {@link DefaultTaskSlotTable.removeTask} (the runtime calls it when the task's
   * `done` resolves); a RELEASING slot becomes FREE with its last task. Attaching the same task
   * object twice is a no-op. Execution ids are not checked here: the runtime owns them.
   *
   * @throws TaskSubmissionError `NO_ACTIVE_SLOT` ({@link NoActiveSlotError}) without such a slot,
   *   `RUNTIME_CLOSED` ({@link RuntimeClosedError}) after {@link DefaultTaskSlotTable.close}.
   */
  addTask(task: Task): void {
    const { allocationId, jobId } = task;
    if (this.#closed) {
      throw new RuntimeClosedError('the slot table is closed', { executionId: task.executionId });
    }
    const slot = this.#byAllocation.get(allocationId);
    if (slot === undefined || slot.state !== 'ACTIVE' || slot.jobId !== jobId) {
      throw new NoActiveSlotError(
        `no ACTIVE slot for allocation ${allocationId} of job ${jobId}` +
          (slot === undefined ? '' : ` (slot ${slot.index} is ${slot.state} for job ${slot.jobId})`),
        { executionId: task.executionId },
      );
    }
    let node: SlotLink;
    if (task instanceof SlotLink && (task.slotHolder === undefined || task.slotHolder === slot)) {
      if (task.slotHolder === slot) return;
      node = task;
    } else {
      // Not one of the runtime's tasks, or one attached to another table already.
      if (this.#foreign.has(task)) return;
      const foreign = new ForeignSlotLink(task);
      this.#foreign.set(task, foreign);
      node = foreign;
    }
    node.slotHolder = slot;
    node.slotPrev = slot.tail;
    if (slot.tail === undefined) slot.head = node;
    else slot.tail.slotNext = node;
    slot.tail = node;
    slot.taskCount++;
  }

  /**
   * Detaches a task (its work has stopped and its `done` resolved). When it was the last task of a
   * RELEASING slot, the slot becomes FREE. Detaching a task that is not attached is a no-op.
   */
  removeTask(task: Task): void {
    let node: SlotLink | undefined;
    if (task instanceof SlotLink && (task.slotHolder as Slot | undefined)?.table === this) {
      node = task;
    } else {
      node = this.#foreign.size === 0 ? undefined : this.#foreign.get(task);
      if (node === undefined) return;
      this.#foreign.delete(task);
    }
    const slot = node.slotHolder as Slot;
    const { slotPrev: prev, slotNext: next } = node;
    if (prev === undefined) slot.head = next;
    else prev.slotNext = next;
    if (next === undefined) slot.tail = prev;
    else next.slotPrev = prev;
    node.slotPrev = node.slotNext = node.slotHolder = undefined;
    slot.taskCount--;
    if (slot.state === 'RELEASING' && slot.taskCount === 0 && !slot.freeing) this.#release(slot);
  }

  /**
   * Frees every slot (failing attached tasks with `cause`, default a {@link SlotReleasedError}), cancels every timeout, and refuses new allocations. Resolves when every
   * slot is FREE, i.e. once the `done` of every attached task has resolved. Idempotent: later calls
   * return the same promise.
   */
  close(cause?: Error): Promise<void> {
    if (this.#closePromise !== undefined) return this.#closePromise;
    this.#closed = true;
    if (this.#debug !== undefined) {
      this.#logger.off('level-change', this.#onLevelChange);
      this.#debug = undefined;
    }
    const reason = cause ?? new SlotReleasedError('the slot table was closed');
    for (const allocationId of Array.from(this.#byAllocation.keys())) this.freeSlot(allocationId, reason);
    this.#closePromise =
      this.#releasingCount === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.#resolveClose = resolve;
          });
    return this.#closePromise;
  }

  #debugEnabled(): boolean {
    return this.#debug ?? this.#logger.isLevelEnabled('debug');
  }

  #slotOf(allocationId: string): Slot {
    const slot = this.#byAllocation.get(allocationId);
    if (slot === undefined) throw new SlotNotFoundError(allocationId);
    return slot;
  }

  #armTimeout(slot: Slot, allocationId: string, timeoutMs: number): void {
    const ticket = ++this.#lastTicket;
    const timer = this.#scheduler.schedule(timeoutMs, () => this.#onTimeout(slot, ticket, allocationId));
    slot.timer = timer;
    slot.ticket = ticket;
  }

  #disarmTimeout(slot: Slot): void {
    const timer = slot.timer;
    if (timer === undefined) return;
    slot.timer = undefined;
    slot.ticket = 0;
    timer.cancel();
  }

  #onTimeout(slot: Slot, ticket: number, allocationId: string): void {
    if (slot.ticket !== ticket || slot.state !== 'ALLOCATED' || slot.allocationId !== allocationId) return;
    slot.timer = undefined;
    slot.ticket = 0;
    if (this.#debugEnabled()) {
      this.#logger.debug({ index: slot.index, allocationId }, 'slot allocation timed out');
    }
    this.freeSlot(
      allocationId,
      new SlotReleasedError(
        `slot ${slot.index} (allocation ${allocationId}) timed out before it was activated`,
        {
          allocationId,
        },
      ),
    );
  }

  /** Any held state → FREE: drops the slot from every index; a dynamic index goes to the free-list. */
  #release(slot: Slot): void {
    const allocationId = slot.allocationId as string;
    const jobId = slot.jobId as string;
    this.#disarmTimeout(slot);
    this.#byAllocation.delete(allocationId);
    // Looked up rather than kept on the slot: a job's list is often new (the job held no other slot),
    // and a young object stored in a long-lived slot costs every scavenge a remembered-set entry on
    // that slot's page; on a large table those pages are everywhere.
    const job = this.#byJob.get(jobId);
    if (job !== undefined) {
      const { jobPrev: prev, jobNext: next } = slot;
      if (prev === undefined) job.head = next;
      else prev.jobNext = next;
      if (next === undefined) job.tail = prev;
      else next.jobPrev = prev;
      slot.jobPrev = slot.jobNext = undefined;
      if (--job.count === 0) this.#byJob.delete(jobId);
    }
    slot.allocationId = undefined;
    slot.jobId = undefined;
    const isStatic = slot.index < this.numberOfSlots;
    if (isStatic) this.#staticSlots[slot.index] = undefined;
    else {
      this.#dynamicSlots.delete(slot.index);
      this.#freeDynamicIndexes.push(slot.index);
    }
    const wasReleasing = slot.state === 'RELEASING';
    // The count first: listeners of the FREE event may check the invariants.
    if (wasReleasing) this.#releasingCount--;
    this.#setState(slot, 'FREE', allocationId, jobId);
    // Back to the pool once its FREE event is out (a listener that allocates the same index again
    // takes another object meanwhile; this one then waits for the next allocation).
    if (isStatic) this.#slotPool.push(slot);
    if (wasReleasing && this.#releasingCount === 0 && this.#resolveClose !== undefined) {
      const resolve = this.#resolveClose;
      this.#resolveClose = undefined;
      resolve();
    }
  }

  /**
   * The one place a slot changes state: checks the transition, then logs and emits. Callers update
   * the indexes first, so listeners (which may call back into the table) see a consistent table.
   */
  #setState(slot: Slot, to: SlotState, allocationId: string, jobId: string): void {
    const from = slot.state;
    if (!isSlotTransition(from, to)) {
      throw new Error(
        `illegal slot transition ${from} -> ${to} (slot ${slot.index}, allocation ${allocationId})`,
      );
    }
    slot.state = to;
    const index = slot.index;
    if (this.#debugEnabled()) {
      this.#logger.debug({ index, allocationId, jobId, from, to }, 'slot state changed');
    }
    // Same effect as emitting to nobody, without building a payload on the hot path.
    const runtimeEvents = this.#runtimeEvents;
    if (
      runtimeEvents === undefined
        ? this.#events.listenerCount('slotStateChanged') === 0
        : !runtimeEvents.hasSlotListeners
    ) {
      return;
    }
    const event: SlotStateChangedEvent = { index, allocationId, jobId, from, to };
    try {
      this.#events.emit('slotStateChanged', event);
    } catch (error) {
      logSafely(
        this.#logger,
        'error',
        { err: error, index, allocationId, jobId, from, to },
        'a slotStateChanged listener threw',
      );
    }
  }
}

function newSlot(table: DefaultTaskSlotTable, index: number): Slot {
  // Fields in the order of use: what every allocate/activate/free touches comes first, so a cycle
  // on a large table, where each slot is a cache miss, reads as few lines of it as possible.
  return {
    index,
    state: 'FREE',
    allocationId: undefined,
    jobId: undefined,
    timer: undefined,
    ticket: 0,
    jobPrev: undefined,
    jobNext: undefined,
    taskCount: 0,
    freeing: false,
    head: undefined,
    tail: undefined,
    table,
  };
}

function reportEntry(slot: Slot): SlotReportEntry {
  if (slot.state === 'FREE') return { index: slot.index, state: 'FREE' };
  return { index: slot.index, state: slot.state, allocationId: slot.allocationId, jobId: slot.jobId };
}

const REQUEST_KEYS = ['index', 'jobId', 'allocationId', 'timeoutMs'] as const;

// Compared against constants rather than looked up in a Set; `for...in` rather than `Object.keys`,
// which built an array per request.
function isRequestKey(key: string): boolean {
  return key === 'index' || key === 'jobId' || key === 'allocationId' || key === 'timeoutMs';
}

function validateRequest(request: AllocateSlotRequest, numberOfSlots: number): void {
  if (typeof request !== 'object' || request === null) {
    throw new InvalidSlotRequestError(
      'request',
      `must be an object, got ${request === null ? 'null' : typeof request}`,
    );
  }
  for (const key in request) {
    // A misspelt `timeout` would otherwise be ignored silently: a slot that never times out.
    if (!isRequestKey(key) && Object.hasOwn(request, key)) {
      throw new InvalidSlotRequestError(
        key,
        `is not a slot request field (known: ${REQUEST_KEYS.join(', ')})`,
      );
    }
  }
  const { index, jobId, allocationId, timeoutMs } = request;
  if (typeof index !== 'number' || !Number.isInteger(index)) {
    throw new InvalidSlotRequestError('index', `must be an integer, got ${String(index)}`);
  }
  if (index < -1 || index >= numberOfSlots) {
    const range = numberOfSlots === 0 ? 'this table has no static slots' : `or 0 … ${numberOfSlots - 1}`;
    throw new InvalidSlotRequestError('index', `must be -1 (dynamic) ${range}, got ${index}`);
  }
  if (typeof jobId !== 'string' || jobId.length === 0) {
    throw new InvalidSlotRequestError('jobId', 'must be a non-empty string');
  }
  if (typeof allocationId !== 'string' || allocationId.length === 0) {
    throw new InvalidSlotRequestError('allocationId', 'must be a non-empty string');
  }
  if (timeoutMs !== undefined) validateTimeout(timeoutMs);
}

function validateTimeout(timeoutMs: unknown): void {
  if (
    typeof timeoutMs !== 'number' ||
    !Number.isFinite(timeoutMs) ||
    timeoutMs < 0 ||
    timeoutMs > MAX_TIMER_MS
  ) {
    throw new InvalidSlotRequestError(
      'timeoutMs',
      `must be a number from 0 to ${MAX_TIMER_MS} ms (the longest a timer can wait), got ${String(timeoutMs)}`,
    );
  }
}
