/**
 * What the main thread and the watchdog thread share: a few 64-bit slots of a SharedArrayBuffer,
 * read and written with `Atomics`, so the watchdog sees them while the main thread is blocked.
 * Times are milliseconds of the monotonic clock (`process.hrtime`), the same in every thread.
 * @internal
 * @module
 */

/** Slot: the last heartbeat of the main event loop. */
export const LAST_BEAT = 0;
/** Slot: when the earliest pending cancellation times out; 0 when none is pending. */
export const DEADLINE = 1;
/** Slot count. */
export const SLOTS = 2;

/** `workerData` of the watchdog thread. */
export interface WatchdogThreadData {
  readonly state: BigInt64Array;
  readonly graceMs: number;
  readonly checkIntervalMs: number;
  /** Bound on reading the main thread's stack. */
  readonly captureTimeoutMs: number;
  /** Where the JSON report line goes besides stderr, if anywhere. */
  readonly logFd: number | undefined;
}

/** Monotonic milliseconds. */
export function monotonicMs(): bigint {
  return process.hrtime.bigint() / 1_000_000n;
}
