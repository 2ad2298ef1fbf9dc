/**
 * Holding a lease: acquire it by compare-and-set, renew it by compare-and-set on the revision last
 * written, fence when it can no longer be trusted, take a new one (new epoch) after it was taken
 * over, release it on close. See `lease-timing.ts` for why the holder has stopped its work before
 * anyone can declare it lost.
 * @internal
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@taskwarden/sdk';
import { toError } from '@taskwarden/sdk';
import { now } from '../clock.js';
import { LeaseHeldError } from '../errors.js';
import { isWrongRevision } from '../nats/cas-errors.js';
import type { LeaseRecord } from './lease-record.js';
import { encodeLeaseRecord, parseLeaseRecord } from './lease-record.js';
import type { LeaseTiming } from './lease-timing.js';
import { FENCE_SLACK_MS, MIN_RENEW_INTERVAL_MS } from './lease-timing.js';

/** Why a holder stopped trusting its lease: it could not renew in time, or it was taken over. @internal */
export type LeaseLoss = 'expired' | 'taken-over';

/** What a {@link LeaseHolder} needs. @internal */
export interface LeaseHolderOptions {
  readonly kv: KV;
  /** The connection, whose reconnects restart a renewal that went down with the old connection. */
  readonly nc: NatsConnection;
  readonly key: string;
  readonly timing: LeaseTiming;
  readonly logger: Logger;
  /** The live record to write for an epoch. */
  readonly record: (epoch: string) => LeaseRecord;
  /** The lease can no longer be trusted: stop the work now. Once per loss; `'expired'` may precede `'taken-over'`. */
  readonly onLost: (loss: LeaseLoss) => void;
  /** A renewal (or acquisition) succeeded: the lease holds for `validForMs` more before the holder must fence. */
  readonly onRenewed?: (validForMs: number) => void;
  /** Held again after a loss: with the same epoch (it was never taken over) or a new one. */
  readonly onRegained?: (epoch: string, sameEpoch: boolean) => void;
}

/** A lease on one key. @internal */
export class LeaseHolder {
  readonly #options: LeaseHolderOptions;
  #epoch = '';
  #revision = 0;
  /** Monotonic ms until which the lease is trusted (a renewal sent at s succeeded: s + leaseMs - margin). */
  #validUntil = Number.NEGATIVE_INFINITY;
  #lost: LeaseLoss | undefined = 'expired';
  #stopped = false;
  #renewTimer: NodeJS.Timeout | undefined;
  #fenceTimer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;
  #reacquiring: Promise<void> | undefined;
  /** Counts renewal attempts; only the latest one's outcome counts. */
  #attempt = 0;

  constructor(options: LeaseHolderOptions) {
    this.#options = options;
    void this.#watchReconnects();
  }

  /** A renewal in flight when the connection dropped may never be answered: send a new one now. */
  async #watchReconnects(): Promise<void> {
    for await (const status of this.#options.nc.status()) {
      if (this.#stopped) return;
      if (
        status.type === 'reconnect' &&
        this.#epoch !== '' &&
        this.#lost !== 'taken-over' &&
        !this.#reacquiring
      ) {
        clearTimeout(this.#renewTimer);
        this.#renewing = this.#renew().finally(() => {
          this.#renewing = undefined;
        });
      }
    }
  }

  /** The current epoch ('' before the first acquisition). */
  get epoch(): string {
    return this.#epoch;
  }

  /** Whether the lease may be trusted right now (checked on the monotonic clock, not by a timer). */
  get valid(): boolean {
    return this.#lost === undefined && !this.#stopped && now() < this.#validUntil;
  }

  /** How long the lease is trusted from now (negative once it ran out). */
  validForMs(): number {
    return this.#validUntil - now();
  }

  /**
   * Takes the lease: creates the key, or takes it over by compare-and-set when its record is dead or
   * released. A live record waits `leaseMs`: unchanged by then, its holder is gone and it is taken
   * over; renewed meanwhile, it is held by someone alive ({@link LeaseHeldError}). Other errors (the
   * server) are thrown as they are.
   */
  async acquire(): Promise<void> {
    const { kv, key } = this.#options;
    for (;;) {
      if (this.#stopped) throw new Error(`lease ${key}: stopped`);
      const epoch = randomBytes(9).toString('base64url');
      const value = encodeLeaseRecord(this.#options.record(epoch));
      let sentAt = now();
      try {
        this.#held(epoch, await kv.create(key, value), sentAt);
        return;
      } catch (error) {
        if (!isWrongRevision(error)) throw error;
      }
      const entry = await kv.get(key);
      if (entry?.operation !== 'PUT') continue; // deleted meanwhile: create again
      const existing = parseLeaseRecord(entry.value);
      if (existing?.state === 'live') {
        // Possibly our own previous incarnation, killed: its lease holds for leaseMs after its last
        // renewal, which we saw no later than now. Unchanged after that long, it is certainly gone.
        await sleep(existing.leaseMs + FENCE_SLACK_MS);
        const again = await kv.get(key);
        if (again && again.revision !== entry.revision) {
          const record = again.operation === 'PUT' ? parseLeaseRecord(again.value) : undefined;
          if (record?.state === 'live') throw new LeaseHeldError(key, record);
          continue;
        }
      }
      sentAt = now();
      try {
        this.#held(epoch, await kv.update(key, value, entry.revision), sentAt);
        return;
      } catch (error) {
        if (!isWrongRevision(error)) throw error;
      }
    }
  }

  /** Stops renewing and marks the lease released, so the same name can be taken at once. Never throws. */
  async release(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#clearTimers();
    await this.#renewing;
    if (this.#lost === 'taken-over' || this.#revision === 0) return;
    const { kv, key } = this.#options;
    const record: LeaseRecord = { ...this.#options.record(this.#epoch), state: 'released' };
    try {
      await kv.update(key, encodeLeaseRecord(record), this.#revision, 2_000);
    } catch (error) {
      // Taken over meanwhile, or the server is gone: observers will find the lease expired instead.
      this.#options.logger.debug({ err: toError(error), key }, 'releasing the lease failed');
    }
  }

  /** Stops renewing without releasing (the lease expires by itself). */
  stop(): void {
    this.#stopped = true;
    this.#clearTimers();
  }

  #held(epoch: string, revision: number, sentAt: number): void {
    const regained = this.#epoch !== '' && this.#lost !== undefined;
    this.#epoch = epoch;
    this.#revision = revision;
    this.#validUntil = sentAt + this.#options.timing.leaseMs - this.#options.timing.marginMs;
    this.#lost = undefined;
    this.#armFence();
    this.#scheduleRenew(this.#options.timing.renewEveryMs - (now() - sentAt));
    this.#options.onRenewed?.(this.validForMs());
    if (regained) this.#options.onRegained?.(epoch, false);
  }

  #scheduleRenew(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(
      () => {
        this.#renewing = this.#renew().finally(() => {
          this.#renewing = undefined;
        });
      },
      Math.max(0, delayMs),
    );
  }

  async #renew(): Promise<void> {
    if (this.#stopped || this.#lost === 'taken-over') return;
    const { kv, key, timing } = this.#options;
    const attempt = ++this.#attempt;
    const sentAt = now();
    const epoch = this.#epoch;
    try {
      // A slow server is waited for as long as the lease holds (a retry would only add load); a
      // renewal lost with a dropped connection is replaced at the reconnect (see #watchReconnects).
      const timeout = Math.max(timing.renewEveryMs, Math.floor(this.validForMs()));
      const revision = await kv.update(
        key,
        encodeLeaseRecord(this.#options.record(epoch)),
        this.#revision,
        timeout,
      );
      if (this.#stopped || attempt !== this.#attempt) return;
      this.#options.logger.trace({ key, revision, rttMs: Math.round(now() - sentAt) }, 'lease renewed');
      this.#revision = revision;
      this.#validUntil = Math.max(this.#validUntil, sentAt + timing.leaseMs - timing.marginMs);
      const wasLost = this.#lost === 'expired';
      this.#lost = undefined;
      this.#armFence();
      this.#options.onRenewed?.(this.validForMs());
      // Never taken over: nobody declared this holder lost, the same epoch goes on.
      if (wasLost) this.#options.onRegained?.(epoch, true);
      this.#scheduleRenew(timing.renewEveryMs - (now() - sentAt));
    } catch (error) {
      if (this.#stopped || attempt !== this.#attempt) return;
      if (isWrongRevision(error) && (await this.#takenOver(epoch))) {
        if (attempt !== this.#attempt) return;
        this.#options.logger.warn({ key, epoch }, 'the lease was taken over: this holder was declared lost');
        this.#lose('taken-over');
        this.#reacquire();
        return;
      }
      if (attempt !== this.#attempt) return;
      this.#options.logger.debug({ err: toError(error), key }, 'renewing the lease failed; retrying');
      this.#scheduleRenew(MIN_RENEW_INTERVAL_MS);
    }
  }

  /**
   * After a stale revision: was the lease taken over, or did an earlier renewal that timed out land
   * after all (the record is still ours, at a newer revision)? In the second case the revision is
   * adopted, but the lease is not extended: which renewal landed, and when it was sent, is unknown.
   */
  async #takenOver(epoch: string): Promise<boolean> {
    try {
      const entry = await this.#options.kv.get(this.#options.key);
      const record = entry?.operation === 'PUT' ? parseLeaseRecord(entry.value) : undefined;
      if (entry && record?.state === 'live' && record.epoch === epoch) {
        this.#revision = entry.revision;
        return false;
      }
      return true;
    } catch {
      return false; // unknown: the next renewal asks again
    }
  }

  /** After a takeover: a new epoch, as soon as the server lets us. */
  #reacquire(): void {
    if (this.#reacquiring || this.#stopped) return;
    this.#reacquiring = (async () => {
      let delay = MIN_RENEW_INTERVAL_MS;
      while (!this.#stopped) {
        try {
          await this.acquire();
          return;
        } catch (error) {
          if (this.#stopped) return;
          this.#options.logger.warn(
            { err: toError(error), key: this.#options.key },
            'taking a new lease failed; retrying',
          );
          await sleep(delay);
          delay = Math.min(delay * 2, this.#options.timing.leaseMs);
        }
      }
    })().finally(() => {
      this.#reacquiring = undefined;
    });
  }

  #armFence(): void {
    clearTimeout(this.#fenceTimer);
    this.#fenceTimer = setTimeout(() => this.#checkFence(), Math.max(0, this.validForMs()));
  }

  #checkFence(): void {
    if (this.#stopped || this.#lost !== undefined) return;
    if (now() >= this.#validUntil) this.#lose('expired');
    else this.#armFence();
  }

  #lose(loss: LeaseLoss): void {
    if (this.#lost === 'taken-over' || this.#lost === loss) return;
    this.#lost = loss;
    clearTimeout(this.#fenceTimer);
    try {
      this.#options.onLost(loss);
    } catch (error) {
      this.#options.logger.error({ err: toError(error) }, 'handling the loss of the lease failed');
    }
  }

  #clearTimers(): void {
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#fenceTimer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
