/**
 * Request/reply for the hot paths (task records, offers, reports): one reply subscription per
 * connection, replies matched by a counter in the reply subject, and one sweeping timer for every
 * deadline. The client's own `request()` arms a timer and builds an `Error` (a stack trace) for
 * every request, also one that succeeds; at thousands of requests a second that was a large part of
 * a coordinator's time.
 *
 * The outcomes are the client's: the reply, a `NoRespondersError` when the server says nobody
 * listens on the subject (it answers the reply subject with status 503), a `TimeoutError` when
 * nothing came within the timeout (the request may have been acted upon), or what `publish` threw
 * (the connection is closed). A reply that comes after its timeout is dropped.
 * @internal
 * @module
 */
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { createInbox, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';

/** How often deadlines are checked: a timeout fires up to this much late. */
const SWEEP_EVERY_MS = 50;

interface Pending {
  readonly subject: string;
  readonly deadline: number;
  readonly resolve: (msg: Msg) => void;
  readonly reject: (error: Error) => void;
}

/** Requests over one connection. @internal */
export class Requester {
  readonly #nc: NatsConnection;
  /** The reply subject of every request, before its counter. */
  readonly #prefix: string;
  readonly #pending = new Map<string, Pending>();
  readonly #subscription: Subscription;
  #counter = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#prefix = `${createInbox()}.`;
    this.#subscription = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => {
        if (!error) this.#onReply(msg);
      },
    });
    void nc.closed().then(() => this.close());
  }

  /** Requests in flight. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Publishes `data` to `subject` with a reply subject of its own; resolves with the first reply.
   * Rejects with `NoRespondersError`, `TimeoutError` (after about `timeoutMs`) or what publishing
   * threw.
   */
  request(subject: string, data: Uint8Array, timeoutMs: number, headers?: MsgHdrs): Promise<Msg> {
    if (this.#closed) return Promise.reject(new RequestError('connection closed'));
    const token = (this.#counter++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      try {
        this.#nc.publish(
          subject,
          data,
          headers ? { reply: this.#prefix + token, headers } : { reply: this.#prefix + token },
        );
      } catch (error) {
        reject(error as Error);
        return;
      }
      this.#pending.set(token, { subject, deadline: performance.now() + timeoutMs, resolve, reject });
      if (this.#sweeper === undefined) {
        this.#sweeper = setInterval(() => this.#sweep(), SWEEP_EVERY_MS);
        this.#sweeper.unref();
      }
    });
  }

  /** Fails every request in flight; later requests fail at once. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const request of pending) request.reject(new RequestError('connection closed'));
    try {
      this.#subscription.unsubscribe();
    } catch {
      /* closed with the connection */
    }
  }

  #onReply(msg: Msg): void {
    const token = msg.subject.slice(this.#prefix.length);
    const request = this.#pending.get(token);
    if (!request) return; // timed out already
    this.#pending.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      request.reject(new NoRespondersError(request.subject));
    } else {
      request.resolve(msg);
    }
  }

  #sweep(): void {
    const time = performance.now();
    for (const [token, request] of this.#pending) {
      if (request.deadline > time) continue;
      this.#pending.delete(token);
      request.reject(new TimeoutError());
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}
