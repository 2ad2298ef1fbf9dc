/**
 * The offer protocol: a task waiting for a thread is posted ahead of time to a busy thread, which
 * may take it when its current task ends, without waiting for the host to hear of the end and send
 * the next task (on a busy machine that round trip is most of the cost of a short task).
 *
 * The offer stays a waiting task, revocable, until the thread claims it. Both sides decide with the
 * same atomic exchange on the thread's `signals[OFFER]` slot (see `OFFER` in `protocol.ts`):
 *
 * - the host stores the task's id there before it posts the `run` message;
 * - the thread claims it with `compareExchange(id → 0)`, and only once its current task's outcome
 *   has been posted;
 * - the host takes it back with the same exchange.
 *
 * Whoever exchanges first wins, so an offered task runs exactly once or not at all; and a thread
 * that has claimed its offer has ended the task before it. Two rules follow for the host:
 *
 * - a task is taken back before its thread is stopped for another task: otherwise stopping the
 *   thread would stop the offered task too, which was never cancelled (issue 14.10);
 * - when the take-back fails, the task before it has ended already (its outcome is on the way), so
 *   that task can no longer be stopped, and the thread must not be: it runs the offered task.
 *
 * The functions are the protocol's two sides; {@link OfferBook} is the host's record of the one
 * offer that may be out at a time.
 * @internal
 * @module
 */
import { OFFER } from './protocol.js';

/** Host: records that task `id` is offered to the thread of `signals`; before posting its `run`. */
export function markOffered(signals: Int32Array, id: number): void {
  Atomics.store(signals, OFFER, id);
}

/** Host: forgets an offer whose `run` message could not be posted. */
export function clearOffer(signals: Int32Array): void {
  Atomics.store(signals, OFFER, 0);
}

/**
 * Host: takes back task `id`, offered to (or given to and not yet claimed by) the thread of
 * `signals`. True when taken back: the thread will never run it. False when the thread claimed it.
 */
export function takeBack(signals: Int32Array, id: number): boolean {
  return Atomics.compareExchange(signals, OFFER, id, 0) === id;
}

/**
 * Thread: claims offered task `id` once its current task's outcome has been posted. True when the
 * thread may run it; false when the host took it back.
 */
export function claim(signals: Int32Array, id: number): boolean {
  return Atomics.compareExchange(signals, OFFER, id, 0) === id;
}

/** Host: true while a task offered to the thread (or given to it) has not been claimed or taken back. */
export function isUnclaimed(signals: Int32Array): boolean {
  return Atomics.load(signals, OFFER) !== 0;
}

/** What the offer book needs of a thread. */
export interface OfferHolder<TTask> {
  readonly signals: Int32Array;
  /** The task offered to this thread, while the host has not committed or taken it back. */
  offered: TTask | undefined;
}

/** What the offer book needs of a task. */
export interface Offerable {
  /** Unique per executor, never 0 (0 marks an empty slot). */
  readonly id: number;
}

/** What stopping a thread's current task found about the thread's offer; see {@link OfferBook.beforeStop}. */
export type StopVerdict<TTask> =
  /** No offer: the thread may be stopped. */
  | { readonly kind: 'none' }
  /** The offer was taken back (it must wait again, first in line); the thread may be stopped. */
  | { readonly kind: 'revoked'; readonly task: TTask }
  /** The thread claimed its offer: the current task has ended; the thread must not be stopped. */
  | { readonly kind: 'claimed' };

const NONE = Object.freeze({ kind: 'none' as const });
const CLAIMED = Object.freeze({ kind: 'claimed' as const });

/**
 * The host's side of the offer protocol: at most one offer out at a time, on one thread.
 * @internal
 */
export class OfferBook<TTask extends Offerable, TThread extends OfferHolder<TTask>> {
  #thread: TThread | undefined;

  /** The thread holding the outstanding offer, while the host may still take it back. */
  get thread(): TThread | undefined {
    return this.#thread;
  }

  /** The outstanding offer. */
  get task(): TTask | undefined {
    return this.#thread?.offered;
  }

  /** True when an offer is out. */
  get outstanding(): boolean {
    return this.#thread !== undefined;
  }

  /** Marks the slot; call before posting the `run` message, so the thread's claim finds it. */
  prepare(thread: TThread, task: TTask): void {
    markOffered(thread.signals, task.id);
  }

  /** The `run` message could not be posted: the offer never happened. */
  abandon(thread: TThread): void {
    clearOffer(thread.signals);
  }

  /** The `run` message was posted: the offer is out. */
  place(thread: TThread, task: TTask): void {
    thread.offered = task;
    this.#thread = thread;
  }

  /**
   * Takes `task` back from `thread` (offered, or given and not yet claimed). True when taken back:
   * it never runs there. False when the thread claimed it.
   */
  revoke(thread: TThread, task: TTask): boolean {
    if (!takeBack(thread.signals, task.id)) return false;
    this.#forget(thread, task);
    return true;
  }

  /**
   * Another thread is free first: takes the outstanding offer back for it, so tasks start first
   * come, first served. Undefined when no offer is out, or when its thread has claimed it: then it
   * is no longer waiting, and only its thread keeps it (as `offered`, until the host commits it).
   */
  reclaim(): TTask | undefined {
    const thread = this.#thread;
    const task = thread?.offered;
    this.#thread = undefined;
    if (thread === undefined || task === undefined || !takeBack(thread.signals, task.id)) return undefined;
    thread.offered = undefined;
    return task;
  }

  /**
   * The thread's current task has ended (the host read its outcome): the offered task becomes its
   * current one (the thread claims it, or has). From now on only a cancel can take it back, with
   * {@link OfferBook.revoke}. Returns that task, or undefined when there was no offer.
   */
  commit(thread: TThread): TTask | undefined {
    const task = thread.offered;
    if (task !== undefined) this.#forget(thread, task);
    return task;
  }

  /**
   * Before `thread` is stopped because of its current task: takes its offer back, so the offer
   * is not stopped with it; or finds that the thread claimed it, which means the current task has
   * ended and the thread must be left alone.
   */
  beforeStop(thread: TThread): StopVerdict<TTask> {
    const task = thread.offered;
    if (task === undefined) return NONE;
    if (this.revoke(thread, task)) return { kind: 'revoked', task };
    return CLAIMED;
  }

  #forget(thread: TThread, task: TTask): void {
    if (thread.offered === task) thread.offered = undefined;
    if (this.#thread === thread) this.#thread = undefined;
  }
}
