import type { ExecutionState, TerminalState } from '../execution-state.js';
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
  /** Unique among live tasks; a random UUID by default. */
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

/** How a task ended. `done` resolves to it; it never rejects. */
export interface TaskOutcome<TResult = unknown> {
  state: TerminalState;
  /** The work's return value (FINISHED only). */
  result?: TResult;
  /** FAILED: the failure cause. CANCELED: what the work threw while stopping, kept as a diagnostic. */
  error?: Error;
  /** Whether `cancel()` was requested before the task ended. */
  cancellationRequested: boolean;
  /** True when the watchdog or eager escalation gave up on stopping the work. */
  abandoned: boolean;
}

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
  /** Resolves once the task is terminal and its work has stopped (or was abandoned). Never rejects. */
  readonly done: Promise<TaskOutcome<TResult>>;
  /** Ask the task to stop. Idempotent, returns at once, never throws. */
  cancel(): void;
  /** Fail the task with `cause` and stop its work. Idempotent, returns at once, never throws. */
  fail(cause: unknown): void;
}
