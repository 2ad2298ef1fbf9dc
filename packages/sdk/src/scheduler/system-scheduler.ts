import { performance } from 'node:perf_hooks';
import type { ScheduledTimer, Scheduler } from '../interfaces/scheduler.js';

/**
 * The default {@link Scheduler}: the host's timers and `performance.now()`.
 *
 * Timers keep the process alive on purpose: a watchdog that must fire to end a deaf task's
 * cancellation cannot be allowed to vanish because nothing else is pending.
 */
export class SystemScheduler implements Scheduler {
  schedule(delayMs: number, callback: () => void): ScheduledTimer {
    const handle = setTimeout(callback, delayMs);
    return { cancel: () => clearTimeout(handle) };
  }

  now(): number {
    return performance.now();
  }
}
