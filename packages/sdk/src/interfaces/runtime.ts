import type { DependencyContainer } from 'tsyringe';
import type { ExecutionState, TerminalState } from '../execution-state.js';
import type { CancellationStage } from './cancellation-strategy.js';
import type { JobState, RuntimeEventEmitter } from './events.js';
import type { Executor, ExecutorCapabilities } from './executor.js';
import type { FatalErrorHandler } from './fatal-error-handler.js';
import type { Logger } from './logger.js';
import type { Scheduler } from './scheduler.js';
import type { CancellationOptions, Task, TaskDescriptor } from './task.js';
import type { SlotReportEntry, TaskSlotTable } from './task-slot-table.js';

/** `'running'`, `'fatal'` after a fatal error (no new work), `'closed'` after `close()`. */
export type RuntimeHealth = 'running' | 'fatal' | 'closed';

/**
 * Options of `createRuntime`. Unknown keys are refused (TypeError naming the key); every bad value is a
 * TypeError or RangeError naming the option.
 */
export interface RuntimeOptions {
  /** Static slots `0 … numberOfSlots-1`, an integer from 0 to `MAX_SLOTS`; dynamic slots come on top. */
  numberOfSlots: number;
  /**
   * Executors by the name descriptors use. The runtime closes them on `close()`.
   * @default the `Tokens.Executors` registration of `container`
   */
  executors?: Record<string, Executor>;
  /**
   * Executor for descriptors that name none.
   * @default the only executor, when there is exactly one
   */
  defaultExecutor?: string;
  /** Default ladder timings (each task may override them). @default `DEFAULT_CANCELLATION` (30 000 / 30 000 / 180 000 ms) */
  cancellation?: CancellationOptions;
  /** Called when work cannot be guaranteed to stop. @default `ExitProcessFatalErrorHandler` (exit code 70) */
  fatalErrorHandler?: FatalErrorHandler;
  /** Every timer of the runtime. @default `SystemScheduler` (the host's `setTimeout`) */
  scheduler?: Scheduler;
  /** Where the runtime logs; one child per task. @default pino at level `warn` on stderr */
  logger?: Logger;
  /**
   * Level of the per-transition log line. Hosts that run many short tasks with an info-level logger
   * can move it to `'debug'`: four lines per task otherwise cost more than the task itself (see the
   * README's "Performance").
   * @default 'info'
   */
  transitionLogLevel?: 'info' | 'debug';
  /**
   * A parent tsyringe container holding overrides; the runtime makes a child of it. Import
   * `@taskwarden/sdk` (which loads `reflect-metadata`) before `tsyringe`.
   * @default tsyringe's root container (nothing is ever registered into it)
   */
  container?: DependencyContainer;
}

/** `close()` options. Unknown keys are refused (a misspelt `grace` would otherwise be ignored). */
export interface CloseOptions {
  /**
   * Hard-stop work still running this long after close began (where the executor can).
   * @default none: each task's own ladder applies
   */
  graceMs?: number;
}

/** What `cancelJob` resolves to: every task of the job the cancellation found, and how it ended. */
export interface JobCancellationReport {
  /** The cancelled job. */
  jobId: string;
  /** Always CANCELED: the job ends CANCELED even when some of its tasks finished anyway. */
  state: 'CANCELED';
  /** Every task that was live when the cancellation began or was submitted during it. */
  tasks: Array<{ executionId: string; name: string; state: TerminalState }>;
}

/** How far a task's cancellation ladder has got, in a {@link TaskSnapshot}. */
export interface LadderSnapshot {
  /** The last stage reached: `'signal'`, `'interrupt'`, `'hard_stop'` or `'watchdog'`. */
  readonly stage: CancellationStage;
  /** When cancellation (or `fail()`) was requested, ms since the epoch. */
  readonly requestedAt: number;
  /** How many interrupter rounds ran. */
  readonly interrupts: number;
  /** The last `taskStuck` report, if any. */
  readonly lastStuck?: { readonly elapsedMs: number; readonly diagnostics?: string };
}

/** One live task in a {@link RuntimeSnapshot}. */
export interface TaskSnapshot {
  /** The task's execution id. */
  readonly executionId: string;
  /** Its job. */
  readonly jobId: string;
  /** Its slot allocation. */
  readonly allocationId: string;
  /** Its name. */
  readonly name: string;
  /** The key of its executor. */
  readonly executor: string;
  /** Its state. */
  readonly state: ExecutionState;
  /** When it was submitted, ms since the epoch. */
  readonly submittedAt: number;
  /** The last progress value reported (`undefined` until then). */
  readonly progress: unknown;
  /** Whether cancellation was requested. */
  readonly cancellationRequested: boolean;
  /** Its cancellation ladder, once one was armed. */
  readonly ladder?: LadderSnapshot;
}

/** One job in a {@link RuntimeSnapshot}: jobs with live tasks or a cancellation in progress. */
export interface JobSnapshot {
  /** The job id. */
  readonly jobId: string;
  /** RUNNING or CANCELING. */
  readonly state: JobState;
  /** Its live tasks. */
  readonly liveTasks: number;
}

/** A point-in-time view of a runtime (for inspectors and health endpoints): a fresh, plain object. */
export interface RuntimeSnapshot {
  /** When it was taken, ms since the epoch. */
  readonly takenAt: number;
  /** The runtime's health. */
  readonly health: RuntimeHealth;
  /** The slot table's report. */
  readonly slots: readonly SlotReportEntry[];
  /** Every live task of this runtime, oldest first. */
  readonly tasks: readonly TaskSnapshot[];
  /** Every job with live tasks or a cancellation in progress. */
  readonly jobs: readonly JobSnapshot[];
  /** The executors by key: their `name` and `capabilities`. */
  readonly executors: Readonly<
    Record<string, { readonly name: string; readonly capabilities: ExecutorCapabilities }>
  >;
}

/** A runtime made by `createRuntime`. */
export interface TaskRuntime {
  /** The runtime's capacity (shared with other runtimes when given through `container`). */
  readonly slotTable: TaskSlotTable;
  /**
   * Events of the runtime's tasks, slots and jobs. Listeners run synchronously, inside the
   * transition that emits them, and may call `cancel()` or `fail()`; one that throws is logged.
   */
  readonly events: RuntimeEventEmitter;
  /** `'running'`, `'fatal'` after a fatal error (no new work), `'closed'` after `close()`. */
  readonly health: RuntimeHealth;
  /**
   * Starts a task: it launches one microtask later, so `submit(); cancel()` runs nothing. Throws
   * `TaskSubmissionError` subclasses (`NoActiveSlotError`, `InvalidDescriptorError`,
   * `UnknownExecutorError`, `DuplicateExecutionIdError`, `RuntimeClosedError`) or `RuntimeFatalError`
   * for what it refuses; a refused descriptor changes nothing.
   */
  submit<TInput = unknown, TResult = unknown>(descriptor: TaskDescriptor<TInput, TResult>): Task<TResult>;
  /** A live task of this runtime (until its `done` resolves), by execution id. */
  getTask(executionId: string): Task | undefined;
  /**
   * A point-in-time view: health, slots, every live task with its ladder state, jobs, executors.
   * Costs O(live tasks + slots); meant for inspectors and health endpoints, not the hot path.
   */
  snapshot(): RuntimeSnapshot;
  /**
   * Cancels every task of the job (those not started first), calls every executor's `cancelJob`,
   * and resolves when all are terminal. Submissions to the job meanwhile are born CANCELED. One
   * cancellation per job at a time; afterwards the job id may be used again.
   */
  cancelJob(jobId: string): Promise<JobCancellationReport>;
  /**
   * Stops intake, cancels this runtime's tasks, waits for their work to stop, closes the slot table if
   * the runtime made it (not one given through `container`), closes the executors and flushes the
   * log. Idempotent: later calls return the same promise.
   */
  close(options?: CloseOptions): Promise<void>;
}

/** DI token of the runtime options (validated, with defaults). */
export const RuntimeOptionsToken: unique symbol = Symbol.for('@taskwarden/sdk:RuntimeOptions');

/** DI token of the executors map (`Record<string, Executor>`). */
export const ExecutorsToken: unique symbol = Symbol.for('@taskwarden/sdk:Executors');
