import { ExecutionState } from '../execution-state.js';
import type { Task, TaskOutcome } from '../interfaces/task.js';
import type { TaskSlotTable } from '../interfaces/task-slot-table.js';

/**
 * A hand-written fake {@link Task} for testing slot tables and other code that only holds tasks:
 * the test resolves `done` with `finish()`, and `fail()` only records its cause.
 *
 * Like the runtime, the owner of a task detaches it from its slot table once `done` resolved: give
 * the table as `detachFrom` and `finish()` does that too.
 *
 * @example
 * ```ts
 * const task = new FakeTask('exec-1', 'job', 'alloc-1', table);
 * table.addTask(task);
 * table.freeSlot('alloc-1'); // → -1, RELEASING; task.failures has the cause
 * task.finish();             // → done resolves, the task is detached, the slot becomes FREE
 * ```
 */
export class FakeTask implements Task {
  /** Always `'fake'`. */
  readonly name = 'fake';
  /** Always `'fake'`. */
  readonly executor = 'fake';
  /** Always RUNNING: a fake task has no state machine. */
  readonly state = ExecutionState.RUNNING;
  /** Always `undefined`. */
  readonly failureCause = undefined;
  /** Always false. */
  readonly cancellationRequested = false;
  /** Always `undefined`. */
  readonly progress = undefined;
  /** Causes passed to `fail`, in order. */
  readonly failures: unknown[] = [];
  readonly done: Promise<TaskOutcome>;
  #resolve: (outcome: TaskOutcome) => void = () => {};
  readonly #detachFrom: TaskSlotTable | undefined;

  /**
   * @param executionId - the task's id.
   * @param jobId - its job.
   * @param allocationId - the allocation of its slot.
   * @param detachFrom - a slot table `finish()` detaches the task from (as the runtime would).
   */
  constructor(
    readonly executionId: string,
    readonly jobId: string,
    readonly allocationId: string,
    detachFrom?: TaskSlotTable,
  ) {
    this.#detachFrom = detachFrom;
    this.done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  /** Does nothing. */
  cancel(): void {}

  /** Records `cause` in {@link FakeTask.failures}. */
  fail(cause: unknown): void {
    this.failures.push(cause);
  }

  /** Resolves `done` as FINISHED (with `result`), then detaches the task from `detachFrom`. */
  finish(result?: unknown): void {
    this.#resolve({ state: ExecutionState.FINISHED, result, cancellationRequested: false, abandoned: false });
    this.#detachFrom?.removeTask(this);
  }
}
