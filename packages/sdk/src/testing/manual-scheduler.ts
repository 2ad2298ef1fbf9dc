import type { ScheduledTimer, Scheduler } from '../interfaces/scheduler.js';

interface PendingTimer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A {@link Scheduler} on fake time for tests: nothing fires until `advance`.
 *
 * @example
 * ```ts
 * const scheduler = new ManualScheduler();
 * const runtime = createRuntime({ numberOfSlots: 1, executors, scheduler });
 * task.cancel();
 * await scheduler.advanceAsync(30_000); // the interrupter fires once
 * ```
 */
export class ManualScheduler implements Scheduler {
  #now = 0;
  #seq = 0;
  #scheduled = 0;
  #timers: PendingTimer[] = [];
  readonly #ignoreCancel: boolean;

  /**
   * @param options.ignoreCancel - model a scheduler that had already queued a callback when it was
   *   cancelled, so code under test must tell stale timers apart by itself.
   */
  constructor(options: { ignoreCancel?: boolean } = {}) {
    this.#ignoreCancel = options.ignoreCancel ?? false;
  }

  now(): number {
    return this.#now;
  }

  schedule(delayMs: number, callback: () => void): ScheduledTimer {
    const timer: PendingTimer = {
      at: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      callback,
      cancelled: false,
    };
    this.#timers.push(timer);
    this.#scheduled++;
    return {
      cancel: () => {
        if (!this.#ignoreCancel) timer.cancelled = true;
      },
    };
  }

  /** How many timers were ever armed. */
  get scheduledCount(): number {
    return this.#scheduled;
  }

  /** Timers armed and neither fired nor cancelled. */
  get pendingCount(): number {
    return this.#timers.filter((timer) => !timer.cancelled).length;
  }

  /** Moves time forward, firing due timers in time order; synchronous. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let next = this.#nextDue(target); next; next = this.#nextDue(target)) {
      // Time never goes back: a timer that was due before a block() fires late.
      this.#now = Math.max(this.#now, next.at);
      next.callback();
    }
    this.#now = target;
  }

  /**
   * Models a host whose event loop is blocked for `ms`: time moves on and nothing fires. The timers
   * that fell due meanwhile fire late, on the next {@link ManualScheduler.fireDue} or `advance`.
   */
  block(ms: number): void {
    this.#now += ms;
  }

  /**
   * One "timers phase": fires the timers due now, in time order, but not the ones they arm (even
   * with a 0 ms delay) — as a real event loop runs those only after its I/O phase. Returns how many
   * fired.
   */
  fireDue(): number {
    const due = this.#timers
      .filter((timer) => !timer.cancelled && timer.at <= this.#now)
      .sort((a, b) => a.at - b.at || a.seq - b.seq);
    for (const timer of due) timer.cancelled = true;
    this.#timers = this.#timers.filter((timer) => !timer.cancelled);
    for (const timer of due) timer.callback();
    return due.length;
  }

  /** Like `advance`, but lets promise callbacks run after each timer, as real time would. */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flushMicrotasks();
    for (let next = this.#nextDue(target); next; next = this.#nextDue(target)) {
      this.#now = Math.max(this.#now, next.at);
      next.callback();
      await flushMicrotasks();
    }
    this.#now = target;
    await flushMicrotasks();
  }

  #nextDue(target: number): PendingTimer | undefined {
    this.#timers = this.#timers.filter((timer) => !timer.cancelled);
    let best: PendingTimer | undefined;
    for (const timer of this.#timers) {
      if (
        timer.at <= target &&
        (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq))
      ) {
        best = timer;
      }
    }
    if (best) best.cancelled = true;
    return best;
  }
}

/** Lets queued promise callbacks run (a few macrotask turns). */
export async function flushMicrotasks(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
