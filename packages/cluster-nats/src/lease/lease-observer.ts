/**
 * Watching other holders' leases (coordinators watch agents, agents watch coordinators). A KV watch
 * tells about renewals, but nothing at all when a holder simply stops renewing, so each live lease
 * gets a timer of its own: `leaseMs` after its last renewal was seen, the observer reads the key and,
 * if the revision has not moved, marks the record dead by compare-and-set on that revision. Only the
 * observer whose write succeeds declares the holder lost (every other one sees the dead record); a
 * renewal that lands later fails against the new revision, so a dead lease never comes back.
 * @internal
 * @module
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { Logger } from '@taskwarden/sdk';
import { toError } from '@taskwarden/sdk';
import { now } from '../clock.js';
import { isWrongRevision } from '../nats/cas-errors.js';
import type { GarbageLog } from '../protocol/garbage-log.js';
import type { LeaseRecord } from './lease-record.js';
import { encodeLeaseRecord, parseLeaseRecord } from './lease-record.js';

/** A live lease as last seen. @internal */
export interface ObservedLease {
  readonly key: string;
  readonly record: LeaseRecord;
  readonly revision: number;
}

/** How an observed holder was lost. @internal */
export type ObservedLoss = 'lease-expired' | 'lease-released';

/** What a {@link LeaseObserver} needs. @internal */
export interface LeaseObserverOptions {
  readonly kv: KV;
  /** Which keys: `'a.'` (agents) or `'c.'` (coordinators). */
  readonly prefix: string;
  /** Written into the records this observer takes over. */
  readonly selfName: string;
  readonly logger: Logger;
  readonly garbage: GarbageLog;
  /** A live lease was seen (first time, or renewed). */
  readonly onLive?: (lease: ObservedLease) => void;
  /** A holder's epoch is over: taken over (by anyone) or released. Once per epoch, after its work has stopped. */
  readonly onLost?: (lease: ObservedLease, loss: ObservedLoss) => void;
}

/** How long to wait before trying again to read or take over a lease the server did not answer about. */
const RETRY_MS = 100;
/** Epochs remembered as lost per key (a holder restarting many times must not grow this without bound). */
const LOST_EPOCHS_KEPT = 16;

interface Tracked {
  lease: ObservedLease;
  seenAt: number;
  timer: NodeJS.Timeout | undefined;
}

/** Watches a set of leases and declares their holders lost. @internal */
export class LeaseObserver {
  readonly #options: LeaseObserverOptions;
  readonly #tracked = new Map<string, Tracked>();
  readonly #lostEpochs = new Map<string, string[]>();
  #watch: { stop(): void } | undefined;
  #stopped = false;

  constructor(options: LeaseObserverOptions) {
    this.#options = options;
  }

  /** Starts watching; resolves once the watch exists (current records arrive right after). */
  async start(): Promise<void> {
    const watch = await this.#options.kv.watch({ key: `${this.#options.prefix}>` });
    this.#watch = watch;
    void this.#follow(watch);
  }

  /** Applies what the watch delivers; should the watch end by itself, a new one replaces it. */
  async #follow(watch: AsyncIterable<KvEntry> & { stop(): void }): Promise<void> {
    try {
      for await (const entry of watch) {
        if (this.#stopped) return;
        this.#onEntry(entry);
      }
    } catch (error) {
      if (!this.#stopped) this.#options.logger.warn({ err: toError(error) }, 'the lease watch failed');
    }
    let delay = RETRY_MS;
    while (!this.#stopped) {
      try {
        // Every current record comes again: applying one already seen changes nothing.
        await this.start();
        return;
      } catch (error) {
        this.#options.logger.debug({ err: toError(error) }, 'restarting the lease watch failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }

  /** The live lease under `key`, if one is known. */
  current(key: string): ObservedLease | undefined {
    return this.#tracked.get(key)?.lease;
  }

  /** Every live lease known now. */
  all(): ObservedLease[] {
    return [...this.#tracked.values()].map((tracked) => tracked.lease);
  }

  /** Whether this epoch of `key` has been declared lost. */
  isLost(key: string, epoch: string): boolean {
    return this.#lostEpochs.get(key)?.includes(epoch) ?? false;
  }

  /** Reads `key` from the server (a holder the watch has not shown yet); tracks it when live. */
  async fetch(key: string): Promise<ObservedLease | undefined> {
    const entry = await this.#options.kv.get(key);
    if (entry) this.#onEntry(entry);
    return this.current(key);
  }

  stop(): void {
    this.#stopped = true;
    this.#watch?.stop();
    for (const tracked of this.#tracked.values()) clearTimeout(tracked.timer);
    this.#tracked.clear();
  }

  #onEntry(entry: KvEntry): void {
    const { key } = entry;
    const tracked = this.#tracked.get(key);
    if (tracked && entry.revision <= tracked.lease.revision) return; // old news (a fetch raced the watch)
    if (entry.operation !== 'PUT') {
      if (tracked) this.#declareLost(tracked.lease, 'lease-expired');
      return;
    }
    const record = parseLeaseRecord(entry.value);
    if (!record) {
      this.#options.garbage.report(`lease key ${key}`, 'not a lease record');
      return;
    }
    const lease: ObservedLease = { key, record, revision: entry.revision };
    if (tracked && tracked.lease.record.epoch !== record.epoch) {
      // A new incarnation replaced one we had not seen die: the old one was taken over meanwhile.
      this.#declareLost(tracked.lease, 'lease-expired');
    }
    if (record.state === 'dead') {
      this.#declareLost(lease, 'lease-expired');
      return;
    }
    if (record.state === 'released') {
      this.#declareLost(lease, 'lease-released');
      return;
    }
    if (this.isLost(key, record.epoch)) return; // a stale write of a dead epoch cannot land; be safe anyway
    const next: Tracked = { lease, seenAt: now(), timer: undefined };
    if (tracked) clearTimeout(tracked.timer);
    this.#tracked.set(key, next);
    this.#arm(next, record.leaseMs);
    this.#options.onLive?.(lease);
  }

  #arm(tracked: Tracked, delayMs: number): void {
    clearTimeout(tracked.timer);
    tracked.timer = setTimeout(() => void this.#check(tracked), Math.max(0, delayMs));
  }

  /** The lease's time is up as far as this observer saw: take it over unless it moved. */
  async #check(tracked: Tracked): Promise<void> {
    if (this.#stopped || this.#tracked.get(tracked.lease.key) !== tracked) return;
    const { kv } = this.#options;
    const { key, record, revision } = tracked.lease;
    try {
      const entry = await kv.get(key);
      if (this.#tracked.get(key) !== tracked) return;
      if (entry?.operation !== 'PUT') {
        // Gone (the bucket's age limit): nobody holds it, and nobody can renew it.
        this.#declareLost(tracked.lease, 'lease-expired');
        return;
      }
      if (entry.revision !== revision) {
        this.#onEntry(entry); // renewed: the watch is behind
        return;
      }
      const dead: LeaseRecord = { ...record, state: 'dead', takenBy: this.#options.selfName };
      await kv.update(key, encodeLeaseRecord(dead), revision);
      this.#declareLost(tracked.lease, 'lease-expired');
    } catch (error) {
      if (this.#stopped || this.#tracked.get(key) !== tracked) return;
      if (isWrongRevision(error)) {
        this.#arm(tracked, 0); // moved just now: read it again
        return;
      }
      this.#options.logger.debug({ err: toError(error), key }, 'checking a lease failed; retrying');
      this.#arm(tracked, RETRY_MS);
    }
  }

  #declareLost(lease: ObservedLease, loss: ObservedLoss): void {
    const { key } = lease;
    const tracked = this.#tracked.get(key);
    if (tracked && tracked.lease.record.epoch === lease.record.epoch) {
      clearTimeout(tracked.timer);
      this.#tracked.delete(key);
    }
    if (this.isLost(key, lease.record.epoch)) return;
    const epochs = this.#lostEpochs.get(key) ?? [];
    epochs.push(lease.record.epoch);
    if (epochs.length > LOST_EPOCHS_KEPT) epochs.shift();
    this.#lostEpochs.set(key, epochs);
    try {
      this.#options.onLost?.(lease, loss);
    } catch (error) {
      this.#options.logger.error({ err: toError(error), key }, 'handling a lost lease failed');
    }
  }
}
