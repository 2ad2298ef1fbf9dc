import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { OfferHolder } from './offer-protocol.js';
import { claim, isUnclaimed, markOffered, OfferBook, takeBack } from './offer-protocol.js';
import { SIGNAL_SLOTS } from './protocol.js';

interface FakeTask {
  readonly id: number;
}

/** A thread as the offer book sees it; its "thread side" is played by calling `claim` directly. */
class FakeThread implements OfferHolder<FakeTask> {
  readonly signals = new Int32Array(new SharedArrayBuffer(SIGNAL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  offered: FakeTask | undefined;
}

function offerTo(book: OfferBook<FakeTask, FakeThread>, thread: FakeThread, task: FakeTask): void {
  book.prepare(thread, task);
  book.place(thread, task);
}

describe('offer protocol: one atomic exchange decides', () => {
  it('a task taken back can no longer be claimed', () => {
    const { signals } = new FakeThread();
    markOffered(signals, 7);
    expect(takeBack(signals, 7)).toBe(true);
    expect(claim(signals, 7)).toBe(false);
    expect(isUnclaimed(signals)).toBe(false);
  });

  it('a task claimed can no longer be taken back', () => {
    const { signals } = new FakeThread();
    markOffered(signals, 7);
    expect(claim(signals, 7)).toBe(true);
    expect(takeBack(signals, 7)).toBe(false);
  });

  it('a stale claim or take-back of another task changes nothing', () => {
    const { signals } = new FakeThread();
    markOffered(signals, 8);
    expect(claim(signals, 7)).toBe(false);
    expect(takeBack(signals, 7)).toBe(false);
    expect(isUnclaimed(signals)).toBe(true);
    expect(claim(signals, 8)).toBe(true);
  });

  it('with a thread claiming while the host takes back, every offer has exactly one winner', async () => {
    const rounds = 20_000;
    const signals = new FakeThread().signals;
    // [0]: the thread runs (1), must stop (2); [id]: 1 when the thread won task id.
    const claimed = new Int32Array(new SharedArrayBuffer((rounds + 1) * Int32Array.BYTES_PER_ELEMENT));
    const thread = new Worker(
      `const { workerData: { signals, claimed, url } } = require('node:worker_threads');
       import(url).then(({ claim }) => {
         Atomics.store(claimed, 0, 1);
         Atomics.notify(claimed, 0);
         while (Atomics.load(claimed, 0) === 1) {
           const id = Atomics.load(signals, ${2 /* OFFER */});
           if (id !== 0 && claim(signals, id)) Atomics.store(claimed, id, 1);
         }
       });`,
      { eval: true, workerData: { signals, claimed, url: builtModule() } },
    );
    const exited = new Promise((resolve) => thread.once('exit', resolve));
    const hostWon = new Uint8Array(rounds + 1);
    try {
      expect(Atomics.wait(claimed, 0, 0, 10_000)).not.toBe('timed-out');
      for (let id = 1; id <= rounds; id++) {
        markOffered(signals, id);
        // Give the thread a varying head start, so both sides win sometimes; every 500th offer it gets
        // as long as it needs (up to 1 s), so that even a thread the OS rarely schedules wins some.
        for (let spin = id % 64; spin > 0; spin--) Atomics.load(signals, 0);
        if (id % 500 === 0) {
          const deadline = Date.now() + 1_000;
          while (Atomics.load(claimed, id) === 0 && Date.now() < deadline) Atomics.load(signals, 0);
        }
        if (takeBack(signals, id)) hostWon[id] = 1;
      }
    } finally {
      Atomics.store(claimed, 0, 2);
      await exited;
    }
    let threadWins = 0;
    for (let id = 1; id <= rounds; id++) {
      // Exactly one side won each offer: a task taken back never ran, a claimed one was not taken back.
      expect((hostWon[id] ?? 0) + Atomics.load(claimed, id), `offer ${id}`).toBe(1);
      threadWins += Atomics.load(claimed, id);
    }
    // Not a speed assertion: the thread was running all along, so over this many rounds both win.
    expect(threadWins).toBeGreaterThan(0);
    expect(threadWins).toBeLessThan(rounds);
    expect(thread.threadId).toBe(-1); // the thread has exited
  });
});

describe('OfferBook: the host’s record of the one outstanding offer', () => {
  it('another free thread reclaims an unclaimed offer, which then never runs on the first', () => {
    const book = new OfferBook<FakeTask, FakeThread>();
    const thread = new FakeThread();
    offerTo(book, thread, { id: 1 });
    expect(book.outstanding).toBe(true);
    expect(book.reclaim()).toEqual({ id: 1 });
    expect(book.outstanding).toBe(false);
    expect(thread.offered).toBeUndefined();
    expect(claim(thread.signals, 1)).toBe(false);
  });

  it('a claimed offer is not reclaimed: it stays with its thread until the host commits it', () => {
    const book = new OfferBook<FakeTask, FakeThread>();
    const thread = new FakeThread();
    const task = { id: 2 };
    offerTo(book, thread, task);
    expect(claim(thread.signals, 2)).toBe(true);
    expect(book.reclaim()).toBeUndefined();
    // No longer waiting: another offer may go out meanwhile.
    expect(book.outstanding).toBe(false);
    expect(thread.offered).toBe(task);
    expect(book.commit(thread)).toBe(task);
    expect(thread.offered).toBeUndefined();
  });

  it('a committed task the thread has not claimed yet can still be taken back (cancelled before it ran)', () => {
    const book = new OfferBook<FakeTask, FakeThread>();
    const thread = new FakeThread();
    const task = { id: 3 };
    offerTo(book, thread, task);
    expect(book.commit(thread)).toBe(task);
    expect(book.revoke(thread, task)).toBe(true);
    expect(claim(thread.signals, 3)).toBe(false);
  });

  it('before a thread is stopped for its current task, an unclaimed offer is taken back', () => {
    const book = new OfferBook<FakeTask, FakeThread>();
    const thread = new FakeThread();
    const task = { id: 4 };
    expect(book.beforeStop(thread)).toEqual({ kind: 'none' });
    offerTo(book, thread, task);
    expect(book.beforeStop(thread)).toEqual({ kind: 'revoked', task });
    expect(book.outstanding).toBe(false);
    expect(thread.offered).toBeUndefined();
    // The thread reaches the end of its task only now: too late, the offer is gone.
    expect(claim(thread.signals, 4)).toBe(false);
  });

  it('issue 14.10: a thread that claimed its offer has ended the task being stopped, and must not be stopped', () => {
    const book = new OfferBook<FakeTask, FakeThread>();
    const thread = new FakeThread();
    const task = { id: 5 };
    offerTo(book, thread, task);
    // The running task ends and the thread takes the offer, before the host hears of either; then
    // the host is asked to hard-stop the running task.
    expect(claim(thread.signals, 5)).toBe(true);
    expect(book.beforeStop(thread)).toEqual({ kind: 'claimed' });
    // The offered task still belongs to the thread: the host commits it when it reads the end.
    expect(book.commit(thread)).toBe(task);
  });

  it('an offer whose run message could not be posted is gone', () => {
    const book = new OfferBook<FakeTask, FakeThread>();
    const thread = new FakeThread();
    book.prepare(thread, { id: 6 });
    book.abandon(thread);
    expect(isUnclaimed(thread.signals)).toBe(false);
    expect(book.outstanding).toBe(false);
  });
});

/** The built module, so the thread runs the same code the runner does. */
function builtModule(): string {
  return new URL('../../dist/worker/offer-protocol.js', import.meta.url).href;
}
