import type { Execution, ExecutorCapabilities } from './executor.js';
import type { Logger } from './logger.js';
import type { Task } from './task.js';

/** Resolved ladder timings of one task. */
export interface CancellationTimings {
  /** How often the interrupter runs while the work has not stopped. */
  readonly interruptIntervalMs: number;
  /** Delay before the hard stop (0: right after the signal). */
  readonly gracePeriodMs: number;
  /** Delay before the watchdog gives up on the work. */
  readonly timeoutMs: number;
}

/** The task being stopped, as a strategy sees it. */
export interface CancellationTarget {
  /** The task being stopped (CANCELING, or FAILED by `fail()`). */
  readonly task: Task;
  /** Its execution: `cancel`, `interrupt`, `kill`, `diagnose`. */
  readonly execution: Execution;
  /** What its executor can do (`hardStop`, `diagnostics`, `hardStopMs`). */
  readonly capabilities: ExecutorCapabilities;
  /** The task's resolved timings. */
  readonly timings: CancellationTimings;
  /** The reason to pass to `execution.cancel`. */
  readonly reason: Error;
  /** The task's logger. */
  readonly logger: Logger;
  /** True once the work has stopped; every stage checks it before acting. */
  isWorkStopped(): boolean;
  /** Report work that has not reacted (warning log + `taskStuck` event). */
  reportStuck(elapsedMs: number, diagnostics: string | undefined): void;
  /** Give up on the work: fatal handler, task FAILED, `done` with `abandoned: true`. */
  abandon(error: Error): void;
  /**
   * Tells the runtime a stage of the ladder was reached (for the inspector, metrics and traces):
   * `'signal'` (the work was asked to stop), `'interrupt'` (each interrupter round), `'hard_stop'`,
   * `'watchdog'` (given up). Optional for strategies; never throws.
   */
  reportStage?(stage: CancellationStage): void;
}

/** A stage of the cancellation ladder, as {@link CancellationTarget.reportStage} reports it. */
export type CancellationStage = 'signal' | 'interrupt' | 'hard_stop' | 'watchdog';

/** Returned by {@link CancellationStrategy.arm}; disarmed when the work stops. */
export interface CancellationHandle {
  /** Cancels every timer of the ladder; called when the work has stopped. Idempotent. */
  disarm(): void;
}

/**
 * Stops a task's work. `arm` runs when a task enters CANCELING (or is failed while working). If it
 * throws, the runtime escalates at once (fatal handler, FAILED, abandoned): no path leaves a task in
 * CANCELING.
 */
export interface CancellationStrategy {
  /** Arms the ladder for `target`; throwing means it could not be armed (eager escalation). */
  arm(target: CancellationTarget): CancellationHandle;
}

/** DI token of the {@link CancellationStrategy}. */
export const CancellationStrategyToken: unique symbol = Symbol.for('@taskwarden/sdk:CancellationStrategy');
