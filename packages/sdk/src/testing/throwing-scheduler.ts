import type { ScheduledTimer, Scheduler } from '../interfaces/scheduler.js';

/**
 * Wraps a {@link Scheduler} and throws from `schedule` on demand, to model "cannot create a thread"
 * (the seed's out-of-threads bug) and test eager fatal escalation.
 *
 * @example
 * ```ts
 * const scheduler = new ThrowingScheduler(new ManualScheduler());
 * scheduler.failFrom(1); // every timer from now on fails
 * task.cancel();          // → FAILED, abandoned, fatal handler called synchronously
 * ```
 */
export class ThrowingScheduler implements Scheduler {
  readonly #inner: Scheduler;
  #calls = 0;
  #failAt: ((call: number) => boolean) | undefined;

  constructor(
    inner: Scheduler,
    readonly error: () => Error = () => new Error('cannot create a timer'),
  ) {
    this.#inner = inner;
  }

  /** How many times `schedule` was called. */
  get calls(): number {
    return this.#calls;
  }

  /** Throws on the `n`th call from now (1 = the next call), once. */
  failOnNth(n: number): void {
    const target = this.#calls + n;
    this.#failAt = (call) => call === target;
  }

  /** Throws on every call from the `n`th call from now on. */
  failFrom(n = 1): void {
    const target = this.#calls + n;
    this.#failAt = (call) => call >= target;
  }

  /** Stops failing. */
  heal(): void {
    this.#failAt = undefined;
  }

  schedule(delayMs: number, callback: () => void): ScheduledTimer {
    this.#calls++;
    if (this.#failAt?.(this.#calls)) throw this.error();
    return this.#inner.schedule(delayMs, callback);
  }

  now(): number {
    return this.#inner.now();
  }
}
