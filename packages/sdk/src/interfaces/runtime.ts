import type { DependencyContainer } from 'tsyringe';
import type { TerminalState } from '../execution-state.js';
import type { RuntimeEventEmitter } from './events.js';
import type { Executor } from './executor.js';
import type { FatalErrorHandler } from './fatal-error-handler.js';
import type { Logger } from './logger.js';
import type { Scheduler } from './scheduler.js';
import type { CancellationOptions, Task, TaskDescriptor } from './task.js';
import type { TaskSlotTable } from './task-slot-table.js';

/** `'running'`, `'fatal'` after a fatal error (no new work), `'closed'` after `close()`. */
export type RuntimeHealth = 'running' | 'fatal' | 'closed';

/** Options of `createRuntime`. */
export interface RuntimeOptions {
  /** Static slots `0 … numberOfSlots-1`. */
  numberOfSlots: number;
  /** Executors by the name descriptors use. The runtime closes them on `close()`. */
  executors?: Record<string, Executor>;
  /** Executor for descriptors that name none; defaults to the only executor when there is one. */
  defaultExecutor?: string;
  /** Default ladder timings. */
  cancellation?: CancellationOptions;
  /** Default: `ExitProcessFatalErrorHandler`. */
  fatalErrorHandler?: FatalErrorHandler;
  /** Default: timers of the host (`setTimeout`). */
  scheduler?: Scheduler;
  /** Default: pino at level `warn` on stderr. */
  logger?: Logger;
  /**
   * Level of the per-transition log line (default `'info'`). Hosts that run many short tasks with
   * an info-level logger can move it to `'debug'`: four lines per task otherwise cost more than the
   * task itself (see the README's "Performance").
   */
  transitionLogLevel?: 'info' | 'debug';
  /** A parent tsyringe container holding overrides; the runtime makes a child of it. */
  container?: DependencyContainer;
}

/** `close()` options. */
export interface CloseOptions {
  /** Hard-stop work still running this long after close began (where the executor can). */
  graceMs?: number;
}

/** What `cancelJob` resolves to: every task of the job and how it ended. */
export interface JobCancellationReport {
  jobId: string;
  state: 'CANCELED';
  tasks: Array<{ executionId: string; name: string; state: TerminalState }>;
}

/** A runtime made by `createRuntime`. */
export interface TaskRuntime {
  readonly slotTable: TaskSlotTable;
  readonly events: RuntimeEventEmitter;
  readonly health: RuntimeHealth;
  /** Starts a task; throws `TaskSubmissionError` or `RuntimeFatalError` for what it refuses. */
  submit<TInput = unknown, TResult = unknown>(descriptor: TaskDescriptor<TInput, TResult>): Task<TResult>;
  /** A live task (not yet `done`). */
  getTask(executionId: string): Task | undefined;
  /** Cancels every task of the job; resolves when all are terminal. */
  cancelJob(jobId: string): Promise<JobCancellationReport>;
  /** Stops intake, cancels everything, waits for it, closes executors, flushes the log. */
  close(options?: CloseOptions): Promise<void>;
}

/** DI token of the runtime options (validated, with defaults). */
export const RuntimeOptionsToken: unique symbol = Symbol.for('@taskwarden/sdk:RuntimeOptions');

/** DI token of the executors map (`Record<string, Executor>`). */
export const ExecutorsToken: unique symbol = Symbol.for('@taskwarden/sdk:Executors');
