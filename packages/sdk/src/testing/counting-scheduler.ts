import type { ScheduledTimer, Scheduler } from '../interfaces/scheduler.js';
import { SystemScheduler } from '../scheduler/system-scheduler.js';

/**
 * Wraps a {@link Scheduler} and counts live timers (armed, neither fired nor cancelled): a closed
 * runtime must have none left.
 *
 * @example
 * ```ts
 * const scheduler = new CountingScheduler();
 * const runtime = createRuntime({ numberOfSlots: 1, executors, scheduler });
 * // ...
 * await runtime.close();
 * expect(scheduler.live).toBe(0);
 * ```
 */
export class CountingScheduler implements Scheduler {
  readonly #inner: Scheduler;
  readonly #live = new Set<{ delayMs: number; armedAt: number }>();
  #armed = 0;
  #peak = 0;

  /** @param inner - the scheduler that really arms the timers. @default a `SystemScheduler` */
  constructor(inner: Scheduler = new SystemScheduler()) {
    this.#inner = inner;
  }

  /** Timers armed and neither fired nor cancelled. */
  get live(): number {
    return this.#live.size;
  }

  /** Timers armed so far. */
  get armed(): number {
    return this.#armed;
  }

  /** The most timers live at once. */
  get peak(): number {
    return this.#peak;
  }

  /** The live timers, as `<delay> ms armed <age> ms ago` (for failure messages). */
  describeLive(): string[] {
    const now = this.#inner.now();
    return [...this.#live].map(
      (timer) => `${timer.delayMs} ms armed ${Math.round(now - timer.armedAt)} ms ago`,
    );
  }

  schedule(delayMs: number, callback: () => void): ScheduledTimer {
    const entry = { delayMs, armedAt: this.#inner.now() };
    const timer = this.#inner.schedule(delayMs, () => {
      this.#live.delete(entry);
      callback();
    });
    this.#armed++;
    this.#live.add(entry);
    this.#peak = Math.max(this.#peak, this.#live.size);
    return {
      cancel: () => {
        this.#live.delete(entry);
        timer.cancel();
      },
    };
  }

  now(): number {
    return this.#inner.now();
  }
}
