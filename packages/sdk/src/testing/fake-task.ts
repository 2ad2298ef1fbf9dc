import { ExecutionState } from '../execution-state.js';
import type { Task, TaskOutcome } from '../interfaces/task.js';

/**
 * A hand-written fake {@link Task} for testing slot tables and other code that only holds tasks:
 * the test resolves `done` with `finish()`, and `fail()` only records its cause.
 *
 * @example
 * ```ts
 * const task = new FakeTask('exec-1', 'job', 'alloc-1');
 * table.addTask(task);
 * table.freeSlot('alloc-1'); // → -1, RELEASING; task.failures has the cause
 * task.finish();             // → the slot becomes FREE
 * ```
 */
export class FakeTask implements Task {
  readonly name = 'fake';
  readonly executor = 'fake';
  readonly state = ExecutionState.RUNNING;
  readonly failureCause = undefined;
  readonly cancellationRequested = false;
  /** Causes passed to `fail`, in order. */
  readonly failures: unknown[] = [];
  readonly done: Promise<TaskOutcome>;
  #resolve: (outcome: TaskOutcome) => void = () => {};

  constructor(
    readonly executionId: string,
    readonly jobId: string,
    readonly allocationId: string,
  ) {
    this.done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  cancel(): void {}

  fail(cause: unknown): void {
    this.failures.push(cause);
  }

  /** Resolves `done` as FINISHED. */
  finish(): void {
    this.#resolve({ state: ExecutionState.FINISHED, cancellationRequested: false, abandoned: false });
  }
}
