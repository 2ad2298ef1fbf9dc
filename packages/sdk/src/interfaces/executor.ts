import type { CancellationTimings } from './cancellation-strategy.js';
import type { InvokableReference, TaskInfo } from './invokable.js';
import type { Logger } from './logger.js';

/** What an executor can do to stop work. */
export interface ExecutorCapabilities {
  /** `Execution.kill()` stops work that ignores cancellation. */
  readonly hardStop: boolean;
  /** `Execution.diagnose()` can say where stuck work is. */
  readonly diagnostics: boolean;
  /**
   * What separates the work from the host: nothing (`'none'`, the host's event loop), a worker
   * thread, a child process, or another machine (`'host'`).
   */
  readonly isolation: 'none' | 'thread' | 'process' | 'host';
  /**
   * The longest a hard stop may take: from `Execution.kill()` to the outcome being reported, in
   * milliseconds (e.g. SIGTERM, `killGraceMs`, SIGKILL, and reaping the process tree). The runtime
   * refuses timings whose `timeoutMs` cannot cover `gracePeriodMs` plus this bound (a `RangeError`
   * naming both), because its watchdog would otherwise give up on work that is still being stopped.
   * Only read when `hardStop` is true.
   * @default 0
   */
  readonly hardStopMs?: number;
}

/**
 * How an executor tells the runtime what the work did. The one path for every executor, built-in or
 * not, and as fast as the runtime gets.
 *
 * Every method returns at once, never throws, and may be called during or after `launch()`. The
 * first outcome (`finished` or `failed`) wins; later calls, and calls after the task was given up
 * on, are ignored. Report an outcome only when the work has stopped: the task's `done` resolves on
 * it, and `done` means nothing runs any more.
 *
 * A wrapper executor that wants to observe an inner executor passes it `{ ...spec, report: own }`,
 * where `own` forwards to `spec.report`.
 */
export interface ExecutionReporter {
  /**
   * Hands the task its execution before `launch()` returns. Needed only when `launch()` runs task
   * code synchronously: a `cancel()` during that code (from the task itself, or a listener of
   * RUNNING) then reaches `execution.cancel` before `invoke`. Otherwise the runtime takes the
   * execution `launch()` returns, which also replaces an attached one.
   */
  attach(execution: Execution): void;
  /** The code is loaded and can run: DEPLOYING → INITIALIZING. Implied by `running()`. */
  started(): void;
  /** `restore` is done and `invoke` is about to be called: → RUNNING. */
  running(): void;
  /**
   * The work reported progress (`ctx.reportProgress(value)`): a number from 0 to 1 or any
   * cloneable value. Deliver the last report before the outcome.
   */
  progress(value: unknown): void;
  /** The work returned `value` and has stopped. */
  finished(value: unknown): void;
  /**
   * The work threw `error`, was stopped (killed, crashed), or could not be launched, and has stopped.
   * Any value is accepted and normalised to an `Error`.
   */
  failed(error: unknown): void;
}

/**
 * Everything an executor needs to run one task. A plain object of own properties: an executor may
 * pass `{ ...spec, input }` or `{ ...spec, report }` on to another.
 */
export interface LaunchSpec {
  /** Who the task is (ids, name, attempt). */
  readonly task: TaskInfo;
  /** What to run. */
  readonly invokable: InvokableReference;
  /** The task's input, as submitted (not copied). */
  readonly input: unknown;
  /** The task's logger, bound to `{ jobId, executionId, task }`. */
  readonly logger: Logger;
  /** The task's resolved ladder timings (executors that stop work elsewhere carry them along). */
  readonly cancellation: CancellationTimings;
  /** Where the executor reports what the work did. */
  readonly report: ExecutionReporter;
}

/**
 * One launched unit of work, as the runtime controls it. How it ended is reported through
 * {@link LaunchSpec.report}; see `BaseExecution` for a helper that does the bookkeeping.
 *
 * None of the methods may throw for work that has stopped; `cancel` may be called more than once.
 */
export interface Execution {
  /**
   * Graceful stop: abort the task's `AbortSignal` with `reason` and call the invokable's `cancel()`.
   * Returns at once; the work reports its outcome when it has stopped.
   */
  cancel(reason: Error): void;
  /** Nudge work that has not reacted yet (the interrupter calls it every `interruptIntervalMs`). */
  interrupt?(): void;
  /**
   * Hard stop; the outcome is reported afterwards, within `capabilities.hardStopMs`. Only called
   * when `capabilities.hardStop` is true.
   */
  kill?(): Promise<void>;
  /** Where the work is stuck (a stack), if the executor can tell. */
  diagnose?(): Promise<string | undefined>;
}

/**
 * Turns invokable references into running work and knows how to stop it: the SPI for executor
 * authors. Run `describeExecutorConformance` from `@taskwarden/sdk/testing/conformance` against
 * yours.
 *
 * @example
 * ```ts
 * class SleepExecutor implements Executor {
 *   readonly name = 'sleep';
 *   readonly capabilities = { hardStop: false, diagnostics: false, isolation: 'none' } as const;
 *   launch(spec: LaunchSpec): Execution {
 *     return new SleepExecution(spec); // a BaseExecution: see its example
 *   }
 *   async close(): Promise<void> {}
 * }
 * ```
 */
export interface Executor {
  /** A short name for logs, e.g. `'worker'`. */
  readonly name: string;
  /** What the executor can do to stop work; read by the cancellation ladder. */
  readonly capabilities: ExecutorCapabilities;
  /**
   * Starts the work, and returns at once with its execution. Throwing fails the task in DEPLOYING
   * (unless an outcome was already reported).
   */
  launch(spec: LaunchSpec): Execution;
  /** Drop queued or pending work of a job (called by `runtime.cancelJob` after the job's tasks were cancelled). */
  cancelJob?(jobId: string): Promise<void>;
  /** Stops everything and releases every thread and process; the runtime calls it last on `close()`. */
  close(): Promise<void>;
}
