/**
 * Optional fast paths between the runtime and the executors and slot table shipped with it. Each is
 * a method under a registered symbol (two copies of the SDK in one process still understand each
 * other); whoever does not find it uses the public contract instead, so a custom executor, slot
 * table or task works unchanged.
 *
 * They exist for the inline path, where a no-op task costs about a microsecond and every promise
 * reaction is a measurable share of it.
 * @internal
 * @module
 */

/**
 * On a `LaunchSpec` made by the runtime: `(ok: boolean, value: unknown) => void`. An executor that
 * learns the outcome synchronously, inside `launch()`, reports it here and the task ends at once,
 * without waiting for reactions to `Execution.result` (which must still settle the same way if
 * anyone reads it).
 */
export const REPORT_OUTCOME: unique symbol = Symbol.for('taskwarden.launchSpec.reportOutcome');

/**
 * On a `Task` made by the runtime: `(callback: (arg) => void, arg) => void`. Registers a callback
 * called synchronously with `arg` right after `done` has resolved, instead of one promise reaction
 * to `done` (and without a closure per task).
 */
export const ON_DONE: unique symbol = Symbol.for('taskwarden.task.onDone');

/**
 * On a `Task` made by the runtime: a getter for the key the slot table indexes it by (the number of
 * a generated execution id, which is only formatted as a string when someone reads it).
 */
export const EXECUTION_KEY: unique symbol = Symbol.for('taskwarden.task.executionKey');

/** A task that may carry {@link EXECUTION_KEY}. */
export interface KeyedTask {
  readonly [EXECUTION_KEY]?: string | number;
}

/** A launch spec that may carry {@link REPORT_OUTCOME}. */
export interface OutcomeReporter {
  [REPORT_OUTCOME]?: (ok: boolean, value: unknown) => void;
}

/** A task that may carry {@link ON_DONE}. */
export interface DoneNotifier {
  [ON_DONE]?: (callback: (arg: unknown) => void, arg: unknown) => void;
}
