/**
 * The arithmetic of leases. A holder renews every `renewEveryMs`; after a renewal *sent* at `s`
 * succeeds it trusts its lease until `s + leaseMs - marginMs` and fences itself then (stops its
 * work, which takes at most `marginMs`). An observer declares the holder lost no earlier than
 * `leaseMs` after it *saw* the last renewal, which is later than `s`, and only by compare-and-set on
 * the revision it saw, so a renewal that lands late fails instead of resurrecting the lease. By the
 * time anyone declares the holder lost, the holder has stopped its work.
 * @internal
 * @module
 */

/** Added to a holder's stop bound: timers firing late, the event loop busy, a compare-and-set. @internal */
export const FENCE_SLACK_MS = 100;
/** Renewals are at least this far apart. @internal */
export const MIN_RENEW_INTERVAL_MS = 50;
/** Renewal attempts that fit between two successful renewals before the holder must fence. @internal */
export const RENEWALS_PER_WINDOW = 4;

/** Derived timings of one lease. @internal */
export interface LeaseTiming {
  readonly leaseMs: number;
  /** How long before the lease can be taken over the holder fences itself. */
  readonly marginMs: number;
  readonly renewEveryMs: number;
}

/**
 * Derives the timings of a lease whose holder needs `stopMs` to stop its work; undefined when
 * `leaseMs` is too short to renew a few times before the fencing margin (the caller explains).
 * @internal
 */
export function leaseTiming(leaseMs: number, stopMs: number): LeaseTiming | undefined {
  const marginMs = stopMs + FENCE_SLACK_MS;
  const window = leaseMs - marginMs;
  if (window < RENEWALS_PER_WINDOW * MIN_RENEW_INTERVAL_MS) return undefined;
  return { leaseMs, marginMs, renewEveryMs: Math.floor(window / RENEWALS_PER_WINDOW) };
}

/** The shortest `leaseMs` {@link leaseTiming} accepts for a holder that needs `stopMs`. @internal */
export function minimumLeaseMs(stopMs: number): number {
  return stopMs + FENCE_SLACK_MS + RENEWALS_PER_WINDOW * MIN_RENEW_INTERVAL_MS;
}
