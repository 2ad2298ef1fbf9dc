/**
 * The states of a task and the rules for moving between them.
 * @module
 */

/** The eight states of a task; values equal their names. */
export const ExecutionState = {
  CREATED: 'CREATED',
  DEPLOYING: 'DEPLOYING',
  INITIALIZING: 'INITIALIZING',
  RUNNING: 'RUNNING',
  FINISHED: 'FINISHED',
  CANCELING: 'CANCELING',
  CANCELED: 'CANCELED',
  FAILED: 'FAILED',
} as const;

/** One of the {@link ExecutionState} values. */
export type ExecutionState = (typeof ExecutionState)[keyof typeof ExecutionState];

/** The states a task can end in. */
export type TerminalState =
  | typeof ExecutionState.FINISHED
  | typeof ExecutionState.CANCELED
  | typeof ExecutionState.FAILED;

/**
 * True for FINISHED, CANCELED and FAILED.
 *
 * @example
 * ```ts
 * runtime.events.on('taskStateChanged', ({ to }) => { if (isTerminal(to)) count++; });
 * ```
 */
export function isTerminal(state: ExecutionState): state is TerminalState {
  return state === 'FINISHED' || state === 'CANCELED' || state === 'FAILED';
}

/**
 * Every transition the task state machine allows. Anything else is a bug in the runtime; the
 * model-based test checks every transition it observes against this table.
 * @internal
 */
export const TRANSITIONS: Readonly<Record<ExecutionState, readonly ExecutionState[]>> = {
  CREATED: ['DEPLOYING', 'CANCELED', 'FAILED'],
  DEPLOYING: ['INITIALIZING', 'RUNNING', 'FINISHED', 'CANCELING', 'FAILED'],
  INITIALIZING: ['RUNNING', 'FINISHED', 'CANCELING', 'FAILED'],
  RUNNING: ['FINISHED', 'CANCELING', 'FAILED'],
  CANCELING: ['FINISHED', 'CANCELED', 'FAILED'],
  FINISHED: [],
  CANCELED: [],
  FAILED: [],
};
