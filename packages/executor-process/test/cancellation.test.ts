import type { KillFunction } from '@taskwarden/executor-process';
import { ProcessExitedError } from '@taskwarden/executor-process';
import type { TaskStuckEvent } from '@taskwarden/sdk';
import { TaskCancelledError } from '@taskwarden/sdk';
import { describe, expect, it } from 'vitest';
import type { DirectSpec } from './helpers.js';
import { fixture, isGone, launch, until, untilRecorded, useProcessHarness, waitGone } from './helpers.js';

function spec(module: string, input: unknown): DirectSpec {
  return {
    task: {
      executionId: `e-${Math.random()}`,
      jobId: 'job',
      allocationId: 'slot-0',
      name: 'direct',
      attempt: 1,
    },
    invokable: { module },
    input,
  };
}

describe('ProcessExecutor cancellation', () => {
  const harness = useProcessHarness({ executor: { killGraceMs: 300 } });
  const { setup, submit } = harness;

  it('cancel aborts the signal in the child and calls the cancel() hook', async () => {
    setup();
    const pidFile = harness.ledger.pidFile();
    const task = submit(fixture('cooperative.mjs'), { pidFile });
    await untilRecorded(harness.ledger, pidFile, 'invoked');
    await until(() => task.state === 'RUNNING', 'RUNNING');
    task.cancel();
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
    // The abort reason crossed the boundary as the SDK's own error class.
    expect(outcome.error).toBeInstanceOf(TaskCancelledError);
    const roles = harness.ledger.entries(pidFile).map((entry) => entry.role);
    expect(roles).toContain('cancel-hook');
    expect(roles).toContain('aborted:TaskCancelledError');
    await waitGone(harness.ledger.spawnedPids, 0);
  });

  it('a queued task that is cancelled never spawns a process', async () => {
    const { executor } = setup({ maxProcesses: 1 });
    const blockerFile = harness.ledger.pidFile();
    const blocker = submit(fixture('cooperative.mjs'), { pidFile: blockerFile });
    await untilRecorded(harness.ledger, blockerFile, 'invoked');
    const queued = launch(executor, spec(fixture('echo.mjs'), 'never'));
    expect(executor.stats).toMatchObject({ busy: 1, queued: 1, spawned: 1 });
    const reason = new TaskCancelledError('queued');
    queued.cancel(reason);
    await expect(queued.result).rejects.toBe(reason);
    expect(executor.stats).toMatchObject({ queued: 0, spawned: 1 });
    blocker.cancel();
    expect((await blocker.done).state).toBe('CANCELED');
    expect(harness.ledger.spawnedPids).toHaveLength(1);
  });

  it('hard stop: SIGTERM then SIGKILL to the whole group ends a SIGTERM-deaf child and its grandchild', async () => {
    let pidFile = '';
    const signals: string[] = [];
    const sigtermSeen = () =>
      harness.ledger.entries(pidFile).some((entry) => entry.role === 'sigterm-ignored');
    // The seam holds SIGKILL back until the child has recorded the SIGTERM, so the order is checked
    // without assuming that a loaded machine runs the child's handler within the 300 ms grace.
    const kill: KillFunction = (pid, signal) => {
      if (signal !== 0) signals.push(String(signal));
      if (signal === 'SIGKILL' && !sigtermSeen()) {
        void until(sigtermSeen, 'the SIGTERM to be recorded')
          .catch(() => undefined)
          .then(() => process.kill(pid, 'SIGKILL'))
          .catch(() => undefined);
        return true;
      }
      return process.kill(pid, signal);
    };
    setup({ killGraceMs: 300, kill });
    pidFile = harness.ledger.pidFile();
    const task = submit(fixture('deaf-with-grandchild.mjs'), { pidFile });
    await untilRecorded(harness.ledger, pidFile, 'invoked');
    const [child] = harness.ledger.pidsOf(pidFile, 'child');
    const [grandchild] = harness.ledger.pidsOf(pidFile, 'grandchild');
    task.cancel();
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
    expect(outcome.error).toBeInstanceOf(ProcessExitedError);
    expect(outcome.error).toMatchObject({ killed: true, signal: 'SIGKILL', pid: child });
    // SIGTERM went to the group first and was ignored; SIGKILL ended it.
    expect(signals[0]).toBe('SIGTERM');
    expect(signals).toContain('SIGKILL');
    expect(harness.ledger.entries(pidFile).map((entry) => entry.role)).toContain('sigterm-ignored');
    // `done` means the whole tree is gone, not just the child.
    expect(isGone(child as number)).toBe(true);
    expect(isGone(grandchild as number)).toBe(true);
  });

  it('kill() keeps the process counted until its group is gone, then the capacity is back', async () => {
    const { executor } = setup({ maxProcesses: 1, killGraceMs: 200 });
    const pidFile = harness.ledger.pidFile();
    const execution = launch(executor, spec(fixture('deaf-with-grandchild.mjs'), { pidFile }));
    const next = launch(executor, spec(fixture('echo.mjs'), 'next'));
    await untilRecorded(harness.ledger, pidFile, 'invoked');
    const killed = execution.kill?.();
    const settled = execution.result.catch((error: unknown) => error);
    // The grace period has not run out: the deaf child is alive and still holds the only slot.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(executor.stats).toMatchObject({ processes: 1, queued: 1 });
    await killed;
    expect(await settled).toBeInstanceOf(ProcessExitedError);
    for (const pid of [
      ...harness.ledger.pidsOf(pidFile, 'child'),
      ...harness.ledger.pidsOf(pidFile, 'grandchild'),
    ]) {
      expect(isGone(pid)).toBe(true);
    }
    expect(await next.result).toMatchObject({ echoed: 'next' });
  });

  it('a CPU-bound child is stopped, and diagnose() shows where it is stuck', async () => {
    setup();
    const pidFile = harness.ledger.pidFile();
    const stuck: TaskStuckEvent[] = [];
    harness.runtime?.events.on('taskStuck', (event) => stuck.push(event));
    const task = harness.runtime?.submit({
      jobId: 'job',
      allocationId: 'slot-0',
      invokable: { module: fixture('cpu-bound.mjs') },
      input: { pidFile, grandchild: true },
      // A grace period long enough for the interrupter to report (and diagnose) a few times.
      cancellation: { interruptIntervalMs: 150, gracePeriodMs: 5_000, timeoutMs: 8_000 },
    });
    if (!task) throw new Error('no runtime');
    await untilRecorded(harness.ledger, pidFile, 'invoked');
    task.cancel();
    await until(() => stuck.length > 0, 'a taskStuck event');
    expect(stuck[0]?.diagnostics).toMatch(/at spinForever \(file:.*cpu-bound\.mjs:\d+:\d+\)/);
    expect(task.state).toBe('CANCELING');
    await harness.runtime?.close({ graceMs: 0 }); // the hard stop, now
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', abandoned: false });
    for (const pid of harness.ledger.all()) expect(isGone(pid)).toBe(true);
  });

  it('diagnose() says when the child is idle rather than inventing a stack', async () => {
    const { executor } = setup();
    const pidFile = harness.ledger.pidFile();
    const execution = launch(executor, spec(fixture('cooperative.mjs'), { pidFile }));
    await untilRecorded(harness.ledger, pidFile, 'invoked');
    expect(await execution.diagnose?.()).toMatch(/idle/);
    execution.cancel(new TaskCancelledError('x'));
    await expect(execution.result).rejects.toBeInstanceOf(TaskCancelledError);
    await waitGone(harness.ledger.spawnedPids, 0);
  });

  it('cancel() and kill() are idempotent and never throw after the work stopped', async () => {
    const { executor } = setup();
    const execution = launch(executor, spec(fixture('echo.mjs'), 1));
    await execution.result;
    const reason = new TaskCancelledError('late');
    expect(() => execution.cancel(reason)).not.toThrow();
    expect(() => execution.cancel(reason)).not.toThrow();
    await execution.kill?.();
    await execution.kill?.();
    expect(await execution.diagnose?.()).toBeUndefined();
  });

  it('cancelJob drops the queued tasks of that job', async () => {
    const { executor } = setup({ maxProcesses: 1 });
    const blockerFile = harness.ledger.pidFile();
    const blocker = launch(executor, spec(fixture('cooperative.mjs'), { pidFile: blockerFile }));
    await untilRecorded(harness.ledger, blockerFile, 'invoked');
    const queued = launch(executor, spec(fixture('echo.mjs'), 1));
    await executor.cancelJob('job');
    await expect(queued.result).rejects.toBeInstanceOf(TaskCancelledError);
    blocker.cancel(new TaskCancelledError('blocker'));
    await expect(blocker.result).rejects.toBeInstanceOf(TaskCancelledError);
    await until(() => executor.stats.processes === 0, 'the blocker process to be gone');
    expect(harness.ledger.spawnedPids).toHaveLength(1);
  });
});
