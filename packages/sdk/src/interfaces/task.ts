import type { ExecutionState } from '../execution-state.js';
import type { InvokableReference, ModuleUrlReference } from './invokable.js';

/**
 * Cancellation ladder timings, in milliseconds from the cancel request; see the README's
 * "Cancellation semantics". Each is at most 2^31-1 ms (`MAX_TIMER_MS`).
 */
export interface CancellationOptions {
  /**
   * How often the interrupter nudges work that has not stopped and logs where it is stuck (with the
   * executor's `diagnose()` stack), emitting `taskStuck`. At least 1.
   * @default 30_000
   */
  interruptIntervalMs?: number;
  /**
   * Delay before the hard stop (`Execution.kill`) where the executor can. `0` stops hard right after
   * the graceful signal (like piscina's abort); the watchdog still bounds the task.
   * @default 30_000
   */
  gracePeriodMs?: number;
  /**
   * Delay before the watchdog gives up: fatal handler, task FAILED, `abandoned: true`. Must exceed
   * `gracePeriodMs` and cover `gracePeriodMs` plus the executor's `capabilities.hardStopMs`
   * (refused with a RangeError naming both values otherwise).
   * @default 180_000
   */
  timeoutMs?: number;
}

/**
 * What to run, where, and in which slot. Unknown keys are refused (`InvalidDescriptorError`), so a
 * misspelt `executer` never silently runs work on the default executor.
 */
export interface TaskDescriptor<TInput = unknown, TResult = unknown> {
  /** The job the task belongs to (`cancelJob` cancels by it). */
  jobId: string;
  /** An ACTIVE slot's allocation id, of the same job. */
  allocationId: string;
  /**
   * The work: an `Invokable`, a function, or `{ module, export? }` with `module` a string or a `URL`
   * (isolated executors accept only module references).
   */
  invokable: InvokableReference<TInput, TResult> | ModuleUrlReference;
  /**
   * For logs and events.
   * @default the function's name, `<module file>#<export>`, or `'task'`
   */
  name?: string;
  /**
   * Unique among the runtime's live tasks (until `done`); may be reused after. Default: generated,
   * `<16 random hex digits per process>-<base-36 counter>`.
   */
  executionId?: string;
  /**
   * A key of `RuntimeOptions.executors`.
   * @default `RuntimeOptions.defaultExecutor`
   */
  executor?: string;
  /** What the work receives as `ctx.input` (copied by structured clone by isolated executors). @default undefined */
  input?: TInput;
  /** Per-task ladder timings, merged over the runtime's. @default the runtime's `cancellation` */
  cancellation?: CancellationOptions;
  /** Aborting it cancels the task (an already aborted signal cancels it at once). @default none */
  signal?: AbortSignal;
  /** Attempt number shown to the invokable (`ctx.task.attempt`), an integer >= 1. @default 1 */
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

/**
 * A submitted task. Every transition is a compare-and-set; `cancel()` and `fail()` may be called from
 * anywhere (an event listener, the task's own code, another task) at any time.
 */
export interface Task<TResult = unknown> {
  /** Unique among the runtime's live tasks. */
  readonly executionId: string;
  /** The job it belongs to. */
  readonly jobId: string;
  /** The slot allocation it runs in. */
  readonly allocationId: string;
  /** For logs and events. */
  readonly name: string;
  /** The key of the executor running it. */
  readonly executor: string;
  /** The current state; terminal once FINISHED, CANCELED or FAILED. */
  readonly state: ExecutionState;
  /** Set when the task is FAILED: what failed it (the work's error, `fail()`'s cause, the watchdog's). */
  readonly failureCause: Error | undefined;
  /** Whether `cancel()` was requested (also by `cancelJob`, a descriptor signal, or `close()`). */
  readonly cancellationRequested: boolean;
  /** The last value the work reported with `ctx.reportProgress(value)`; `undefined` until then. */
  readonly progress: unknown;
  /** Resolves once the task is terminal and its work has stopped (or was abandoned). Never rejects. */
  readonly done: Promise<TaskOutcome<TResult>>;
  /**
   * Asks the task to stop. CREATED → CANCELED at once (nothing is loaded or invoked); DEPLOYING,
   * INITIALIZING or RUNNING → CANCELING and the cancellation ladder is armed; otherwise a no-op.
   * Idempotent, returns at once, never throws.
   */
  cancel(): void;
  /**
   * Fails the task with `cause` (a non-Error is wrapped in `TaskFailedExternallyError`) and stops its
   * work with the same ladder; `done` still waits for the work to stop. A no-op once terminal.
   * Idempotent, returns at once, never throws.
   */
  fail(cause: unknown): void;
}
