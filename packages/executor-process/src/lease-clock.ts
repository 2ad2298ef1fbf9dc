/**
 * The clock of the host lease (the executor's `hostLease` option): the host computes each deadline
 * on it and the child's watchdog thread compares it with the same clock, so both sides must read it
 * the same way.
 * @internal
 * @module
 */

/** The machine's monotonic clock in ms (CLOCK_MONOTONIC on Linux: the same for every process there). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
