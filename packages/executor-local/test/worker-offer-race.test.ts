import { sleep, until } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { ref, startHarness, TIMINGS } from './worker-harness.js';

/** No grace: `task.cancel()` terminates the thread in the same call (issue 14.10 was seen so). */
const HARD_AT_ONCE = { ...TIMINGS, gracePeriodMs: 0 };

/**
 * Issue 14.10: with `maxThreads: 1`, a waiting task is offered to the busy thread; when the running
 * task ends, the thread takes the offered one at once. A hard stop of the first task that reaches
 * the host before the first task's result must not terminate the thread that now runs the second
 * task: a task is only ever stopped by its own cancellation or failure.
 */
describe('WorkerExecutor: a hard stop racing the end of the task before an offered one', () => {
  it('the offered task that already runs is not stopped by the first task’s hard stop', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    const flags = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
    const first = h.submit(ref('offer-race.mjs', 'returnWhenReleased'), flags, {
      name: 'first',
      cancellation: HARD_AT_ONCE,
    });
    await until(() => first.state === 'RUNNING', 'the first task to run');
    const second = h.submit(ref('offer-race.mjs', 'announceThenWait'), flags, { name: 'second' });
    await until(() => h.executor.stats.queued === 1, 'the second task to wait for the thread');
    // From here on the host's event loop does not turn until the hard stop has been requested, so
    // the first task's result is still unread when it is cancelled, while the thread has already
    // taken the second task.
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 0);
    expect(Atomics.wait(flags, 1, 0, 10_000)).not.toBe('timed-out');
    first.cancel();
    Atomics.store(flags, 2, 1);
    Atomics.notify(flags, 2);
    expect(await second.done).toMatchObject({ state: 'FINISHED', result: 'ran to the end' });
    // The first task had returned before it was cancelled: its work completed.
    expect(await first.done).toMatchObject({
      state: 'FINISHED',
      result: 'released',
      cancellationRequested: true,
    });
    expect(h.executor.threadCount).toBe(1);
  });

  it('over many rounds of a hard stop at about the moment the task ends, no other task is ever failed', async () => {
    await using h = startHarness({ executor: { maxThreads: 1 } });
    for (let round = 0; round < 40; round++) {
      const running = h.submit(ref('invokables.mjs', 'sleep'), 2, {
        name: `running-${round}`,
        cancellation: HARD_AT_ONCE,
      });
      const waiting = h.submit(ref('invokables.mjs'), round, { name: `waiting-${round}` });
      await until(() => !['CREATED', 'DEPLOYING'].includes(running.state), 'the running task to start');
      // Around the 2 ms the running task sleeps: sometimes before its end, sometimes after.
      await sleep(round % 4);
      running.cancel();
      const [ran, waited] = await Promise.all([running.done, waiting.done]);
      expect(['FINISHED', 'CANCELED']).toContain(ran.state);
      expect(waited).toMatchObject({ state: 'FINISHED', result: round });
    }
  });
});
