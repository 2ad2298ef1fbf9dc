/**
 * An agent's fencing margin: how long it may need to stop all its work hard, from its executors'
 * own bounds (`capabilities.hardStopMs`). Its lease must hold that margin and still leave room to
 * renew; otherwise `startAgent` refuses it with the numbers.
 * @internal
 * @module
 */
import type { Executor } from '@taskwarden/sdk';
import type { LeaseTiming } from '../lease/lease-timing.js';
import {
  FENCE_SLACK_MS,
  leaseTiming,
  MIN_RENEW_INTERVAL_MS,
  minimumLeaseMs,
  RENEWALS_PER_WINDOW,
} from '../lease/lease-timing.js';

/** A worker thread stops when terminated, in a few ms; this allows for a busy machine. */
const THREAD_HARD_STOP_MS = 250;

/** The hard-stop bound of one executor, or why it cannot serve on an agent. @internal */
export function hardStopBound(key: string, executor: Executor): number {
  const { capabilities } = executor;
  if (!capabilities.hardStop) {
    throw new TypeError(
      `startAgent: executor '${key}' cannot stop work hard (capabilities.hardStop is false): an agent that loses its lease must stop every task it runs`,
    );
  }
  if (capabilities.isolation === 'host') {
    throw new TypeError(
      `startAgent: executor '${key}' runs tasks on other machines; an agent runs them itself`,
    );
  }
  if (typeof capabilities.hardStopMs === 'number' && Number.isFinite(capabilities.hardStopMs)) {
    return capabilities.hardStopMs;
  }
  if (capabilities.isolation === 'thread') return THREAD_HARD_STOP_MS;
  throw new TypeError(
    `startAgent: executor '${key}' does not say how long a hard stop takes (capabilities.hardStopMs), so the agent cannot derive its fencing margin`,
  );
}

/** Derives the agent's lease timings; a `RangeError` with the numbers when `leaseMs` is too short. @internal */
export function agentLeaseTiming(
  leaseMs: number,
  executors: Readonly<Record<string, Executor>>,
): LeaseTiming {
  let slowest = '';
  let stopMs = 0;
  for (const [key, executor] of Object.entries(executors)) {
    const bound = hardStopBound(key, executor);
    if (bound >= stopMs) {
      stopMs = bound;
      slowest = key;
    }
  }
  const timing = leaseTiming(leaseMs, stopMs);
  if (!timing) {
    throw new RangeError(
      `startAgent: leaseMs ${leaseMs} cannot hold the fencing margin: executor '${slowest}' needs up to ${stopMs} ms ` +
        `to stop its work hard (capabilities.hardStopMs) and the agent ${FENCE_SLACK_MS} ms more, so it must fence ` +
        `itself ${stopMs + FENCE_SLACK_MS} ms before its lease can be taken over, which leaves ${leaseMs - stopMs - FENCE_SLACK_MS} ms ` +
        `to renew the lease in (at least ${RENEWALS_PER_WINDOW} renewals ${MIN_RENEW_INTERVAL_MS} ms apart are needed). ` +
        `Use leaseMs >= ${minimumLeaseMs(stopMs)}, or an executor that stops faster (ProcessExecutor: a lower killGraceMs).`,
    );
  }
  return timing;
}
