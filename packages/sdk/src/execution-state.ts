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
 * Every transition the task state machine allows. The task's one state setter accepts only these
 * pairs (checked by the compiler through {@link TransitionTarget}); the model-based test checks
 * every transition it observes against this table too.
 * @internal
 */
export const TRANSITIONS = {
  CREATED: ['DEPLOYING', 'CANCELED', 'FAILED'],
  DEPLOYING: ['INITIALIZING', 'RUNNING', 'FINISHED', 'CANCELING', 'FAILED'],
  INITIALIZING: ['RUNNING', 'FINISHED', 'CANCELING', 'FAILED'],
  RUNNING: ['FINISHED', 'CANCELING', 'FAILED'],
  CANCELING: ['FINISHED', 'CANCELED', 'FAILED'],
  FINISHED: [],
  CANCELED: [],
  FAILED: [],
} as const satisfies Readonly<Record<ExecutionState, readonly ExecutionState[]>>;

/**
 * The states a task may move to from every state in `TFrom` (for a union, only the targets all of
 * its members allow).
 * @internal
 */
export type TransitionTarget<TFrom extends ExecutionState> = Exclude<
  ExecutionState,
  TFrom extends ExecutionState ? Exclude<ExecutionState, (typeof TRANSITIONS)[TFrom][number]> : never
>;
