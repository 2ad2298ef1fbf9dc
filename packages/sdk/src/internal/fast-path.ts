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
 * On a `Task` made by the runtime: `(callback: () => void) => void`. Registers a callback called
 * synchronously right after `done` has resolved, instead of one promise reaction to `done`.
 */
export const ON_DONE: unique symbol = Symbol.for('taskwarden.task.onDone');

/** A launch spec that may carry {@link REPORT_OUTCOME}. */
export interface OutcomeReporter {
  [REPORT_OUTCOME]?: (ok: boolean, value: unknown) => void;
}

/** A task that may carry {@link ON_DONE}. */
export interface DoneNotifier {
  [ON_DONE]?: (callback: () => void) => void;
}
