/**
 * The process's monotonic clock in ms. Lease arithmetic uses it, never `Date.now()`: the wall clock
 * may jump (NTP, a VM resumed), which would stretch or shrink a lease.
 * @internal
 * @module
 */

/** Milliseconds on a monotonic clock (this process only). @internal */
export function now(): number {
  return performance.now();
}
