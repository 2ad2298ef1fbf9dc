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
  /**
   * Optional: the attached task with this execution id, across all slots. A table that has it must
   * also refuse a second task with an attached execution id (`DUPLICATE_EXECUTION_ID`); the runtime
   * then uses it for `getTask` and keeps no index of its own.
   */
  findTask?(executionId: string): Task | undefined;
  getSlotReport(): SlotReportEntry[];
  /** Throws naming the broken invariant if the indexes disagree. */
  checkInvariants(): void;
  /**
   * Attaches a task to its ACTIVE slot; it stays there until its `done` resolves. Throws
   * `TaskSubmissionError` (`NO_ACTIVE_SLOT`) otherwise.
   */
  addTask(task: Task): void;
  /** Frees every slot, failing running tasks; resolves when every slot is FREE. */
  close(cause?: Error): Promise<void>;
}

/** DI token of the {@link TaskSlotTable}. */
export const TaskSlotTableToken: unique symbol = Symbol.for('@taskwarden/sdk:TaskSlotTable');
