// runtime.snapshot() and the taskCancellationStage event: what an inspector sees of a runtime.
import { describe, expect, it } from 'vitest';
import type { TaskCancellationStageEvent } from '../src/index.js';
import { TIMINGS, testRuntime } from './helpers.js';

describe('runtime.snapshot()', () => {
  it('lists health, slots, live tasks (oldest first) with progress and ladder, jobs and executors', async () => {
    const t = testRuntime({
      hardStop: true,
      diagnostics: true,
      diagnosis: 'at spin (task.js:1)',
      killStops: false,
    });
    const before = Date.now();
    const first = t.submit({ name: 'first' });
    const second = t.submit({ name: 'second' });
    const run1 = await t.executor.nextLaunch(0);
    const run2 = await t.executor.nextLaunch(1);
    run1.run();
    run2.run();
    run1.progress(0.25);
    second.cancel();
    await t.scheduler.advanceAsync(TIMINGS.interruptIntervalMs);

    const snapshot = t.runtime.snapshot();
    expect(snapshot.health).toBe('running');
    expect(snapshot.slots[0]).toEqual({ index: 0, state: 'ACTIVE', allocationId: 'slot', jobId: 'job' });
    expect(snapshot.jobs).toEqual([{ jobId: 'job', state: 'RUNNING', liveTasks: 2 }]);
    expect(snapshot.executors).toEqual({
      scripted: { name: 'scripted', capabilities: { hardStop: true, diagnostics: true, isolation: 'none' } },
    });
    expect(snapshot.tasks.map((task) => task.name)).toEqual(['first', 'second']);
    const [a, b] = snapshot.tasks;
    expect(a).toMatchObject({
      executionId: first.executionId,
      state: 'RUNNING',
      progress: 0.25,
      cancellationRequested: false,
      executor: 'scripted',
    });
    expect(a?.ladder).toBeUndefined();
    expect(a?.submittedAt).toBeGreaterThanOrEqual(before);
    expect(b).toMatchObject({ state: 'CANCELING', cancellationRequested: true });
    expect(b?.ladder).toMatchObject({
      stage: 'interrupt',
      interrupts: 1,
      lastStuck: { elapsedMs: TIMINGS.interruptIntervalMs, diagnostics: 'at spin (task.js:1)' },
    });
    // A plain object: it survives JSON (an inspector sends it as is).
    expect(JSON.parse(JSON.stringify(snapshot)).tasks).toHaveLength(2);

    run1.finish(1);
    run2.throw(new Error('stopped'));
    await Promise.all([first.done, second.done]);
    expect(t.runtime.snapshot().tasks).toEqual([]);
    expect(t.runtime.snapshot().jobs).toEqual([]);
  });
});

describe('taskCancellationStage events', () => {
  it('come in ladder order: signal, interrupts, hard stop, watchdog', async () => {
    const t = testRuntime({ hardStop: true, killStops: false });
    const stages: Array<Pick<TaskCancellationStageEvent, 'stage' | 'elapsedMs'>> = [];
    t.runtime.events.on('taskCancellationStage', ({ stage, elapsedMs }) => stages.push({ stage, elapsedMs }));
    const task = t.submit();
    const run = await t.executor.nextLaunch();
    run.run();
    task.cancel();
    await t.scheduler.advanceAsync(TIMINGS.timeoutMs);
    expect((await task.done).abandoned).toBe(true);
    const names = stages.map((event) => event.stage);
    expect(names[0]).toBe('signal');
    expect(names.indexOf('hard_stop')).toBeGreaterThan(names.indexOf('interrupt'));
    expect(names.at(-1)).toBe('watchdog');
    expect(names.filter((stage) => stage === 'interrupt').length).toBe(
      Math.floor((TIMINGS.timeoutMs - 1) / TIMINGS.interruptIntervalMs),
    );
  });
});
