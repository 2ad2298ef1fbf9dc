import { isGone, sleep, until } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { fixture, untilRecorded, useProcessHarness } from './helpers.js';

const moduleState = fixture('module-state.mjs');

describe('ProcessExecutor with reuse', () => {
  const harness = useProcessHarness({ executor: { reuse: true, killGraceMs: 200 }, expectNoProcesses: true });
  const { setup, submit } = harness;

  it('runs later tasks in the same process, with its module cache', async () => {
    const { executor } = setup();
    const first = (await submit(moduleState).done).result as { pid: number; calls: number };
    const second = (await submit(moduleState).done).result as { pid: number; calls: number };
    expect(second.pid).toBe(first.pid);
    expect(second.calls).toBe(first.calls + 1);
    // A class export still gets a fresh instance per task.
    expect((await submit(fixture('echo.mjs'), undefined, { slot: 0, export: 'Counter' }).done).result).toBe(
      1,
    );
    expect((await submit(fixture('echo.mjs'), undefined, { slot: 0, export: 'Counter' }).done).result).toBe(
      1,
    );
    expect(executor.stats).toMatchObject({ processes: 1, idle: 1, busy: 0, spawned: 1 });
  });

  it('a task that threw leaves its process reusable', async () => {
    setup();
    const failed = await submit(moduleState, { fail: true }).done;
    expect(failed.state).toBe('FAILED');
    const next = (await submit(moduleState).done).result as { pid: number; calls: number };
    expect(next.calls).toBe(2);
    expect(harness.ledger.spawnedPids).toEqual([next.pid]);
  });

  it('never reuses the process of a cancelled task', async () => {
    setup();
    const pidFile = harness.ledger.pidFile();
    const cancelled = submit(fixture('cooperative.mjs'), { pidFile });
    await untilRecorded(harness.ledger, pidFile, 'invoked');
    cancelled.cancel();
    expect((await cancelled.done).state).toBe('CANCELED');
    const [first] = harness.ledger.spawnedPids;
    expect(isGone(first as number)).toBe(true);
    const next = (await submit(moduleState).done).result as { pid: number };
    expect(next.pid).not.toBe(first);
  });

  it('never reuses the process of a task that was killed or crashed', async () => {
    setup();
    const crashed = await submit(fixture('exit-mid-task.mjs'), { code: 2 }).done;
    expect(crashed.state).toBe('FAILED');
    const pidFile = harness.ledger.pidFile();
    const deaf = submit(fixture('deaf-with-grandchild.mjs'), { pidFile });
    await untilRecorded(harness.ledger, pidFile, 'invoked');
    deaf.cancel();
    expect((await deaf.done).state).toBe('CANCELED');
    const next = (await submit(moduleState).done).result as { pid: number; calls: number };
    expect(next.calls).toBe(1);
    expect(harness.ledger.spawnedPids).toHaveLength(3);
    for (const pid of harness.ledger.spawnedPids.slice(0, 2)) expect(isGone(pid)).toBe(true);
  });

  it('stops an idle process after idleTimeoutMs', async () => {
    const { executor } = setup({ idleTimeoutMs: 100 });
    const { pid } = (await submit(moduleState).done).result as { pid: number };
    expect(executor.stats.idle).toBe(1);
    await until(() => executor.stats.processes === 0, 'the idle process to be stopped');
    expect(isGone(pid)).toBe(true);
  });

  it('an idleTimeoutMs beyond the timer range means "never" (it used to overflow to 1 ms)', async () => {
    const { executor } = setup({ idleTimeoutMs: 2 ** 31 });
    const { pid } = (await submit(moduleState).done).result as { pid: number };
    // An overflowing timer fires after 1 ms; give it ample time to show.
    await sleep(150);
    expect(executor.stats).toMatchObject({ processes: 1, idle: 1 });
    expect(isGone(pid)).toBe(false);
    const next = (await submit(moduleState).done).result as { pid: number; calls: number };
    expect(next).toEqual({ pid, calls: 2 });
  });

  it('stays within maxProcesses while reusing', async () => {
    const { executor } = setup({ maxProcesses: 2 }, { numberOfSlots: 3 });
    const outcomes = await Promise.all([0, 1, 2].map((slot) => submit(moduleState, undefined, slot).done));
    const pids = new Set(outcomes.map((outcome) => (outcome.result as { pid: number }).pid));
    expect(pids.size).toBeLessThanOrEqual(2);
    expect(executor.stats.spawned).toBeLessThanOrEqual(2);
  });

  it('close() stops idle processes', async () => {
    const { executor } = setup();
    const { pid } = (await submit(moduleState).done).result as { pid: number };
    expect(isGone(pid)).toBe(false);
    await executor.close();
    expect(isGone(pid)).toBe(true);
  });
});
