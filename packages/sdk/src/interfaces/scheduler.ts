/** A timer armed by a {@link Scheduler}. */
export interface ScheduledTimer {
  /** Stops the timer; idempotent; a timer that already fired is unaffected. */
  cancel(): void;
}

/**
 * The clock and timers of a runtime. Every timer of the runtime (cancellation ladder, slot timeouts,
 * close grace) goes through it, so tests can use fake time and can inject failures: a scheduler that
 * throws from `schedule` models "cannot create a thread".
 *
 * @example
 * ```ts
 * const scheduler: Scheduler = {
 *   schedule: (delayMs, callback) => { const t = setTimeout(callback, delayMs); return { cancel: () => clearTimeout(t) }; },
 *   now: () => performance.now(),
 * };
 * ```
 */
export interface Scheduler {
  /** Runs `callback` once after `delayMs`; may throw when no timer can be created. */
  schedule(delayMs: number, callback: () => void): ScheduledTimer;
  /** Milliseconds on a monotonic clock. */
  now(): number;
}

/** DI token of the {@link Scheduler}. */
export const SchedulerToken: unique symbol = Symbol.for('@taskwarden/sdk:Scheduler');
