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
import type { Execution } from '../interfaces/executor.js';

/**
 * On a `LaunchSpec` made by the runtime: `(ok: boolean, value: unknown) => void`. An executor that
 * learns the outcome synchronously, inside `launch()`, reports it here and the task ends at once,
 * without waiting for reactions to `Execution.result` (which must still settle the same way if
 * anyone reads it). Such an executor must first {@link ATTACH_EXECUTION} the execution it reports
 * for, before any task code runs.
 */
export const REPORT_OUTCOME: unique symbol = Symbol.for('taskwarden.launchSpec.reportOutcome');

/**
 * On a `LaunchSpec` made by the runtime: `(execution: Execution) => void`. Hands the task its
 * execution before `launch()` returns, so that a cancel or fail while task code runs inside
 * `launch()` (from a listener, the task itself, a freed slot) reaches the work as it would later.
 * When `launch()` returns this same execution after reporting the outcome, the runtime attaches no
 * reactions to it; any other returned execution is followed as usual.
 */
export const ATTACH_EXECUTION: unique symbol = Symbol.for('taskwarden.launchSpec.attachExecution');

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
// Not registered (no Symbol.for): a number key means something only with the id prefix of the SDK
// copy that generated it, so a task from another copy must be keyed by its id string.
export const EXECUTION_KEY: unique symbol = Symbol('taskwarden.task.executionKey');

/** A task that may carry {@link EXECUTION_KEY}. */
export interface KeyedTask {
  readonly [EXECUTION_KEY]?: string | number;
}

/** A launch spec that may carry {@link REPORT_OUTCOME} and {@link ATTACH_EXECUTION}. */
export interface OutcomeReporter {
  [REPORT_OUTCOME]?: (ok: boolean, value: unknown) => void;
  [ATTACH_EXECUTION]?: (execution: Execution) => void;
}

/** A task that may carry {@link ON_DONE}. */
export interface DoneNotifier {
  [ON_DONE]?: (callback: (arg: unknown) => void, arg: unknown) => void;
}
