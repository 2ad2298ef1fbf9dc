import type { Task } from './task.js';

/** States of a slot. */
export type SlotState = 'FREE' | 'ALLOCATED' | 'ACTIVE' | 'RELEASING';

/** A slot request. `index: -1` asks for the next dynamic slot (index >= numberOfSlots). */
export interface AllocateSlotRequest {
  index: number;
  jobId: string;
  allocationId: string;
  /** Frees the slot unless it is activated within this time. */
  timeoutMs?: number;
}

/** One row of {@link TaskSlotTable.getSlotReport}. */
export interface SlotReportEntry {
  index: number;
  state: SlotState;
  allocationId?: string;
  jobId?: string;
}

/**
 * The runtime's capacity: static slots `0 … numberOfSlots-1` plus dynamic ones. Consistent under
 * duplicate, late, reordered and conflicting requests: an allocation id maps to exactly one slot.
 */
export interface TaskSlotTable {
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
  isAllocated(index: number, jobId: string, allocationId: string): boolean;
  /** True when the allocation is ACTIVE for that job. */
  isActive(allocationId: string, jobId: string): boolean;
  getAllocationIds(jobId: string): string[];
  getTasks(allocationId: string): Task[];
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
