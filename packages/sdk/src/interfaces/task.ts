import type { ExecutionState } from '../execution-state.js';
import type { InvokableReference } from './invokable.js';

/** Cancellation ladder timings; see the README's "Cancellation semantics". */
export interface CancellationOptions {
  /** How often the interrupter nudges work that has not stopped and logs where it is stuck. Default 30 000. */
  interruptIntervalMs?: number;
  /**
   * Delay before the hard stop (`Execution.kill`) where the executor can. Default 30 000. `0` stops
   * hard right after the graceful signal (like piscina's abort); the watchdog still bounds the task.
   */
  gracePeriodMs?: number;
  /** Delay before the watchdog gives up: fatal handler, task FAILED, abandoned. Default 180 000; must exceed `gracePeriodMs`. */
  timeoutMs?: number;
}

/** What to run, where, and in which slot. */
export interface TaskDescriptor<TInput = unknown, TResult = unknown> {
  jobId: string;
  /** An ACTIVE slot's allocation id, of the same job. */
  allocationId: string;
  invokable: InvokableReference<TInput, TResult>;
  /** Defaults to the invokable's name or `'task'`. */
  name?: string;
  /**
   * Unique among the runtime's live tasks (until `done`); may be reused after. Default: generated,
   * `<16 random hex digits per process>-<base-36 counter>`.
   */
  executionId?: string;
  /** A key of `RuntimeOptions.executors`; defaults to `defaultExecutor`. */
  executor?: string;
  input?: TInput;
  /** Per-task ladder timings; override the runtime's. */
  cancellation?: CancellationOptions;
  /** Aborting it cancels the task. */
  signal?: AbortSignal;
  /** Attempt number shown to the invokable; default 1. */
  attempt?: number;
}

/** Fields every {@link TaskOutcome} has. */
interface OutcomeBase {
  /** Whether `cancel()` was requested before the task ended. */
  readonly cancellationRequested: boolean;
}

/** The work returned: `result` is its value. */
export interface FinishedOutcome<TResult = unknown> extends OutcomeBase {
  readonly state: typeof ExecutionState.FINISHED;
  /** The work's return value. */
  readonly result: TResult;
  readonly error?: undefined;
  readonly abandoned: false;
}

/** The task was cancelled and its work stopped (or never started). */
export interface CanceledOutcome extends OutcomeBase {
  readonly state: typeof ExecutionState.CANCELED;
  readonly result?: undefined;
  /** What the work threw while it stopped, kept as a diagnostic (absent when it threw nothing). */
  readonly error?: Error;
  readonly abandoned: false;
}

/** The task failed: its work threw, could not run, was failed from outside, or was given up on. */
export interface FailedOutcome extends OutcomeBase {
  readonly state: typeof ExecutionState.FAILED;
  readonly result?: undefined;
  /** The failure cause (also `task.failureCause`). */
  readonly error: Error;
  /** True when the watchdog or eager escalation gave up on stopping the work. */
  readonly abandoned: boolean;
}

/**
 * How a task ended. `done` resolves to it; it never rejects. Discriminated by `state`:
 * `if (outcome.state === 'FINISHED') outcome.result` is typed without `undefined`.
 */
export type TaskOutcome<TResult = unknown> = FinishedOutcome<TResult> | CanceledOutcome | FailedOutcome;

/** A submitted task. */
export interface Task<TResult = unknown> {
  readonly executionId: string;
  readonly jobId: string;
  readonly allocationId: string;
  readonly name: string;
  /** The key of the executor running it. */
  readonly executor: string;
  readonly state: ExecutionState;
  /** Set when the task is FAILED. */
  readonly failureCause: Error | undefined;
  readonly cancellationRequested: boolean;
  /** The last value the work reported with `ctx.reportProgress(value)`; `undefined` until then. */
  readonly progress: unknown;
  /** Resolves once the task is terminal and its work has stopped (or was abandoned). Never rejects. */
  readonly done: Promise<TaskOutcome<TResult>>;
  /** Ask the task to stop. Idempotent, returns at once, never throws. */
  cancel(): void;
  /** Fail the task with `cause` and stop its work. Idempotent, returns at once, never throws. */
  fail(cause: unknown): void;
}
