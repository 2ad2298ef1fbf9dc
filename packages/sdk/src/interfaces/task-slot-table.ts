import type { Task } from './task.js';

/** States of a slot. */
export type SlotState = 'FREE' | 'ALLOCATED' | 'ACTIVE' | 'RELEASING';

/**
 * A slot request. `index: -1` asks for the next dynamic slot (index >= numberOfSlots). Unknown keys
 * are refused (`InvalidSlotRequestError`), so a misspelt `timeout` never leaves a slot without one.
 */
export interface AllocateSlotRequest {
  /** A static index `0 … numberOfSlots-1`, or -1 for a dynamic slot. */
  index: number;
  /** The job the allocation belongs to. */
  jobId: string;
  /** The allocation's id: it names the slot from now on (a second request with it is a duplicate). */
  allocationId: string;
  /** Frees the slot unless it is activated within this time. @default none: no timeout */
  timeoutMs?: number;
}

/** One row of {@link TaskSlotTable.getSlotReport}. */
export interface SlotReportEntry {
  /** The slot's index. */
  index: number;
  /** Its state. */
  state: SlotState;
  /** The allocation holding it (absent when FREE). */
  allocationId?: string;
  /** The allocation's job (absent when FREE). */
  jobId?: string;
}

/**
 * The runtime's capacity: static slots `0 … numberOfSlots-1` plus dynamic ones. Consistent under
 * duplicate, late, reordered and conflicting requests: an allocation id maps to exactly one slot.
 */
export interface TaskSlotTable {
  /** The number of static slots. */
  readonly numberOfSlots: number;
  /** Returns the slot index. Exact repeats are no-op successes. */
  allocateSlot(request: AllocateSlotRequest): number;
  /** ALLOCATED → ACTIVE; idempotent; false while RELEASING. */
  markSlotActive(allocationId: string): boolean;
  /** ACTIVE → ALLOCATED with a new timeout; false while RELEASING. */
  markSlotInactive(allocationId: string, timeoutMs: number): boolean;
  /**
   * FREE at once (returns the index) or RELEASING while tasks run (returns -1; they are failed with
   * `cause`). When every task ends while being failed (tasks that had not started), FREE: the index.
   */
  freeSlot(allocationId: string, cause?: Error): number;
  /** True when `allocationId` holds slot `index` for `jobId`, ALLOCATED or ACTIVE. */
  isAllocated(index: number, jobId: string, allocationId: string): boolean;
  /** True when the allocation is ACTIVE for that job. */
  isActive(allocationId: string, jobId: string): boolean;
  /** The allocation ids the job holds in any non-FREE state (a fresh array; `[]` for an unknown job). */
  getAllocationIds(jobId: string): string[];
  /** The tasks attached to the allocation's slot, oldest first (a fresh array; `[]` when unknown). */
  getTasks(allocationId: string): Task[];
  /** Every static slot, and dynamic slots while held, sorted by index (a fresh array). */
  getSlotReport(): SlotReportEntry[];
  /** Throws naming the broken invariant if the indexes disagree. */
  checkInvariants(): void;
  /**
   * Attaches a task to its ACTIVE slot (the runtime calls it in `submit`); it stays there until
   * {@link TaskSlotTable.removeTask}. Throws `NoActiveSlotError` (`NO_ACTIVE_SLOT`) without an ACTIVE
   * slot of the task's allocation and job.
   */
  addTask(task: Task): void;
  /**
   * Detaches a task whose `done` resolved (the runtime calls it); the last task of a RELEASING slot
   * leaves it FREE. A no-op for a task that is not attached.
   */
  removeTask(task: Task): void;
  /** Frees every slot, failing running tasks; resolves when every slot is FREE. */
  close(cause?: Error): Promise<void>;
}

/** DI token of the {@link TaskSlotTable}. */
export const TaskSlotTableToken: unique symbol = Symbol.for('@taskwarden/sdk:TaskSlotTable');
