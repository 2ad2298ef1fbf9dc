/**
 * What an agent's tasks did, on its way to one coordinator: events queue up in order and go out as
 * one report request at a time, each carrying everything queued since the last (batching, up to the
 * server's maximum payload). An event leaves the outbox only when the coordinator acknowledged the
 * report that carried it; anything else (no responders, a timeout, a server restart) sends the same
 * events again, which the coordinator applies idempotently. So an outcome is lost only with the
 * coordinator itself, or with the agent.
 *
 * What one task did next joins its last queued event while that event has not gone out (started,
 * running and the result of a quick task are one event): bits are applied in their order, so this
 * changes nothing the coordinator sees but the number of events. An event in a request that has not
 * been answered yet is never changed, so an acknowledgement always covers exactly what was sent.
 * @internal
 * @module
 */
import type { Logger } from '@taskwarden/sdk';
import { toError } from '@taskwarden/sdk';
import type { Requester } from '../nats/requester.js';
import { decode, encode } from '../protocol/codec.js';
import type { ReportEvent, ReportMessage } from '../protocol/messages.js';
import { EventBit } from '../protocol/messages.js';
import { isReportAck } from '../protocol/validate.js';

const REPORT_TIMEOUT_MS = 2_000;
const RETRY_FIRST_MS = 25;
const RETRY_MAX_MS = 500;
const ENVELOPE_BYTES = 1_024;
const EVENT_OVERHEAD_BYTES = 256;

/** What a {@link ReportOutbox} needs. @internal */
export interface ReportOutboxOptions {
  readonly requester: Pick<Requester, 'request'>;
  readonly subject: string;
  readonly agent: string;
  readonly maxPayload: number;
  readonly logger: Logger;
  /** The agent's current lease epoch and free capacity, stamped on each report. */
  readonly stamp: () => { readonly epoch: string; readonly free: number };
  /** These events reached the coordinator. */
  readonly onAcked: (events: readonly ReportEvent[]) => void;
}

/** The queue of events for one coordinator. @internal */
export class ReportOutbox {
  readonly #options: ReportOutboxOptions;
  readonly #events: ReportEvent[] = [];
  /** Encoded size of each queued event's value or error. */
  readonly #sizes: number[] = [];
  /** Events that ever left the queue (acknowledged or dropped): `#events[i]` is event number `#removed + i`. */
  #removed = 0;
  /** The number of the last queued event of each task that may still take more bits. */
  readonly #open = new Map<string, number>();
  /** The first this many queued events are in the request in flight. */
  #inFlight = 0;
  #sending = false;
  #flushScheduled = false;
  #delay = RETRY_FIRST_MS;
  #retryTimer: NodeJS.Timeout | undefined;
  #dropped = false;
  #idleWaiters: Array<() => void> = [];

  constructor(options: ReportOutboxOptions) {
    this.#options = options;
  }

  /** Events not yet acknowledged. */
  get size(): number {
    return this.#events.length;
  }

  /**
   * Queues what a task did (one {@link EventBit}, with the value of `progress` or `finished` and the
   * error of `failed`); `bytes` is the encoded size of that value or error.
   */
  push(
    id: string,
    token: number,
    bit: number,
    value: Uint8Array | undefined,
    error: ReportEvent[4],
    fenced: boolean,
    bytes: number,
  ): void {
    if (this.#dropped) return;
    const open = this.#open.get(id);
    if (open !== undefined) {
      const index = open - this.#removed;
      const event = this.#events[index];
      if (event && index >= this.#inFlight && event[1] === token && joins(event[2], bit)) {
        event[2] |= bit;
        if (value !== undefined) event[3] = value;
        if (error !== undefined) event[4] = error;
        if (fenced) event[5] = true;
        this.#sizes[index] = (this.#sizes[index] as number) + bytes;
        return;
      }
    }
    this.#open.set(id, this.#removed + this.#events.length);
    this.#events.push([id, token, bit, value, error, fenced]);
    this.#sizes.push(bytes);
    if (this.#flushScheduled || this.#sending) return;
    this.#flushScheduled = true;
    // Events of one turn (a task's started, running and result, or many tasks' results) go together.
    queueMicrotask(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  /** Resolves once every queued event was acknowledged (or the outbox was dropped). */
  idle(): Promise<void> {
    if (this.#events.length === 0 || this.#dropped) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Gives up on the coordinator: its pending events are dropped (returned). */
  drop(): ReportEvent[] {
    this.#dropped = true;
    clearTimeout(this.#retryTimer);
    const dropped = this.#events.splice(0);
    this.#sizes.length = 0;
    this.#open.clear();
    this.#removed += dropped.length;
    this.#wakeIdle();
    return dropped;
  }

  async #flush(): Promise<void> {
    if (this.#sending || this.#dropped || this.#events.length === 0) return;
    this.#sending = true;
    const batch = this.#batch();
    this.#inFlight = batch.length;
    const { epoch, free } = this.#options.stamp();
    const report: ReportMessage = {
      t: 'report',
      agent: this.#options.agent,
      agentEpoch: epoch,
      free,
      events: batch,
    };
    let acked = false;
    try {
      const reply = decode(
        (await this.#options.requester.request(this.#options.subject, encode(report), REPORT_TIMEOUT_MS))
          .data,
      );
      acked = isReportAck(reply);
    } catch (error) {
      this.#options.logger.debug(
        { err: toError(error), subject: this.#options.subject },
        'a report was not acknowledged; sending it again',
      );
    }
    this.#sending = false;
    this.#inFlight = 0;
    if (this.#dropped) return;
    if (acked) {
      this.#events.splice(0, batch.length);
      this.#sizes.splice(0, batch.length);
      for (let i = 0; i < batch.length; i++) {
        const id = (batch[i] as ReportEvent)[0];
        if (this.#open.get(id) === this.#removed + i) this.#open.delete(id);
      }
      this.#removed += batch.length;
      this.#delay = RETRY_FIRST_MS;
      this.#options.onAcked(batch);
      if (this.#events.length === 0) this.#wakeIdle();
      else void this.#flush();
      return;
    }
    this.#retryTimer = setTimeout(() => void this.#flush(), this.#delay);
    this.#delay = Math.min(this.#delay * 2, RETRY_MAX_MS);
  }

  #batch(): ReportEvent[] {
    const budget = this.#options.maxPayload - ENVELOPE_BYTES;
    let bytes = 0;
    let count = 0;
    for (const eventBytes of this.#sizes) {
      const size = eventBytes + EVENT_OVERHEAD_BYTES;
      if (count > 0 && bytes + size > budget) break;
      bytes += size;
      count++;
    }
    return this.#events.slice(0, count);
  }

  #wakeIdle(): void {
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}

/** The value bits: an event carries one value. */
const VALUE_BITS = EventBit.progress | EventBit.finished;

/**
 * Whether `bit` may join an event with `bits`: it comes after all of them in the order they are
 * applied, and does not bring a second value.
 */
function joins(bits: number, bit: number): boolean {
  if (bit <= bits) return false; // `bit` is a power of two: greater than their sum means after each
  return (bit & VALUE_BITS) === 0 || (bits & VALUE_BITS) === 0;
}
