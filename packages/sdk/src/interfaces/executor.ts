import type { CancellationTimings } from './cancellation-strategy.js';
import type { InvokableReference, TaskInfo } from './invokable.js';
import type { Logger } from './logger.js';

/** What an executor can do to stop work. */
export interface ExecutorCapabilities {
  /** `Execution.kill()` stops work that ignores cancellation. */
  readonly hardStop: boolean;
  /** `Execution.diagnose()` can say where stuck work is. */
  readonly diagnostics: boolean;
  /** What separates the work from the host (`'host'`: another machine). */
  readonly isolation: 'none' | 'thread' | 'process' | 'host';
  /** Longest a hard stop may take, `kill()` → outcome reported (ms). */
  readonly hardStopMs?: number;
}

/** Everything an executor needs to run one task. */
export interface LaunchSpec {
  readonly task: TaskInfo;
  readonly invokable: InvokableReference;
  readonly input: unknown;
  /** The task's logger (created on first use). */
  readonly logger: Logger;
  /** The task's resolved cancellation timings (always set by the runtime). */
  readonly cancellation?: CancellationTimings;
  /**
   * The executor calls this once, right before `invoke` (after `restore`), so the task can move to
   * RUNNING. Never throws.
   */
  onRunning(): void;
}

/**
 * One launched unit of work.
 *
 * Contract: `result` settles exactly once, and only when the work has stopped (returned, thrown, or
 * been killed); it resolves with `invoke`'s value and rejects with what the work threw (or with an
 * error saying how it was stopped). `cancel`, `interrupt` and `kill` never throw for a stopped task.
 */
export interface Execution {
  /** Resolves when the code is loaded and the work can run (the end of DEPLOYING). */
  readonly started: Promise<void>;
  /** Settles when the work has stopped. */
  readonly result: Promise<unknown>;
  /** Graceful: abort the task's signal and call the invokable's `cancel()`. Returns at once. */
  cancel(reason: Error): void;
  /** Nudge work that has not reacted yet (the interrupter calls it repeatedly). */
  interrupt?(): void;
  /** Hard stop; `result` settles afterwards. Only called when `capabilities.hardStop`. */
  kill?(): Promise<void>;
  /** Where the work is stuck (a stack), if the executor can tell. */
  diagnose?(): Promise<string | undefined>;
}

/**
 * Turns invokable references into running work and knows how to stop it: the SPI for executor
 * authors. Run `describeExecutorConformance` from `@taskwarden/sdk/testing` against yours.
 */
export interface Executor {
  /** A short name for logs, e.g. `'worker'`. */
  readonly name: string;
  readonly capabilities: ExecutorCapabilities;
  /** Starts the work; throwing fails the task in DEPLOYING. */
  launch(spec: LaunchSpec): Execution;
  /** Drop queued or pending work of a job (called by `runtime.cancelJob`). */
  cancelJob?(jobId: string): Promise<void>;
  /** Stops everything and releases every thread and process. */
  close(): Promise<void>;
}
