/**
 * The agents a coordinator can offer tasks to: the live agent leases of its queue that have its
 * agent executor, each with an estimate of its free capacity ("credits"). Credits come from the
 * agent itself (its lease, its replies to offers, its reports, its "free" broadcasts) and are spent
 * by offers; an agent declines what it cannot take, so a stale estimate costs a round trip, never
 * capacity.
 * @internal
 * @module
 */

import { now } from '../clock.js';
import type { ObservedLease } from '../lease/lease-observer.js';
import type { RemoteExecution } from './remote-execution.js';

/** One agent as a coordinator sees it. @internal */
export interface AgentEntry {
  readonly name: string;
  readonly epoch: string;
  readonly capacity: number;
  readonly leaseMs: number;
  credits: number;
  /** Tasks chosen for this agent, to go out in its next offer. */
  readonly pending: RemoteExecution[];
  offerInFlight: boolean;
  /** Nobody listened on its subject: no offers until then (monotonic ms). */
  quietUntil: number;
  /** A stats request (how much room?) is out. */
  probing: boolean;
}

/** Agents serving one queue with one executor. @internal */
export class AgentDirectory {
  readonly #queue: string;
  readonly #executor: string;
  readonly #maxLeaseMs: number;
  readonly #agents = new Map<string, AgentEntry>();
  /** Agents whose lease is too long for this coordinator's bounds (warned about once). */
  readonly #tooSlow = new Set<string>();
  readonly #onTooSlow: (lease: ObservedLease) => void;

  constructor(options: {
    queue: string;
    executor: string;
    maxLeaseMs: number;
    onTooSlow: (lease: ObservedLease) => void;
  }) {
    this.#queue = options.queue;
    this.#executor = options.executor;
    this.#maxLeaseMs = options.maxLeaseMs;
    this.#onTooSlow = options.onTooSlow;
  }

  /** A live agent lease was seen; returns the entry when the agent can take this coordinator's tasks. */
  onLive(lease: ObservedLease): AgentEntry | undefined {
    const record = lease.record;
    if (record.kind !== 'agent' || record.queue !== this.#queue) return undefined;
    if (!record.executors?.includes(this.#executor)) return undefined;
    if (record.leaseMs > this.#maxLeaseMs) {
      // Its loss could not be detected within the bound this coordinator promises its runtime.
      if (!this.#tooSlow.has(`${record.name}/${record.epoch}`)) {
        this.#tooSlow.add(`${record.name}/${record.epoch}`);
        this.#onTooSlow(lease);
      }
      return undefined;
    }
    const existing = this.#agents.get(record.name);
    if (existing && existing.epoch === record.epoch) return existing;
    const entry: AgentEntry = {
      name: record.name,
      epoch: record.epoch,
      capacity: record.capacity ?? 0,
      leaseMs: record.leaseMs,
      credits: record.capacity ?? 0,
      pending: [],
      offerInFlight: false,
      quietUntil: 0,
      probing: false,
    };
    this.#agents.set(record.name, entry);
    return entry;
  }

  /** The agent's epoch is over; returns its entry (with whatever was pending for it) if it was known. */
  remove(name: string, epoch: string): AgentEntry | undefined {
    const entry = this.#agents.get(name);
    if (!entry || entry.epoch !== epoch) return undefined;
    this.#agents.delete(name);
    return entry;
  }

  get(name: string, epoch?: string): AgentEntry | undefined {
    const entry = this.#agents.get(name);
    return entry && (epoch === undefined || entry.epoch === epoch) ? entry : undefined;
  }

  /** What the agent said about its free capacity. */
  setCredits(name: string, epoch: string, free: number): void {
    const entry = this.get(name, epoch);
    if (!entry) return;
    // Offers in flight are not in `free` yet: do not count them twice.
    entry.credits = Math.max(0, Math.min(entry.capacity, free) - entry.pending.length);
    entry.quietUntil = 0;
  }

  /** The agent with the most credits that can take an offer now. */
  pick(): AgentEntry | undefined {
    const time = now();
    let best: AgentEntry | undefined;
    for (const entry of this.#agents.values()) {
      if (entry.credits <= 0 || entry.quietUntil > time) continue;
      if (!best || entry.credits > best.credits) best = entry;
    }
    return best;
  }

  all(): IterableIterator<AgentEntry> {
    return this.#agents.values();
  }
}
