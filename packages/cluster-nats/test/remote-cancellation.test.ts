import type { TaskStuckEvent } from '@taskwarden/sdk';
import { describe, expect, it } from 'vitest';
import { fixture, readLines, readPids, useCluster } from './support/cluster-harness.js';
import { until, waitGone } from './support/pids.js';

describe('remote tasks are cancelled: cooperative, deaf and CPU-bound', () => {
  const cluster = useCluster();

  async function started(log: string, count = 1): Promise<void> {
    await until(
      () => readLines(log).filter((line) => line.event === 'start').length >= count,
      'the task to start',
      15_000,
    );
  }

  it('cooperative: the signal aborts and the cancel() hook runs on the agent; CANCELED', async () => {
    const name = cluster.newCluster();
    await cluster.startAgent({ cluster: name, name: 'a1' });
    const { submit } = cluster.coordinator({ cluster: name });
    const log = cluster.pidFile();
    const task = submit(fixture('cooperative.mjs'), { log });
    await started(log);
    await until(() => task.state === 'RUNNING', 'RUNNING');
    task.cancel();
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
    expect(readLines(log).some((line) => line.event === 'cancel-hook')).toBe(true);
    await waitGone(readPids(log));
  });

  it('deaf (ignores the signal and SIGTERM, with a grandchild): stopped hard after gracePeriodMs, the whole tree gone by done', async () => {
    const name = cluster.newCluster();
    await cluster.startAgent({ cluster: name, name: 'a1' });
    const { submit } = cluster.coordinator({ cluster: name });
    const log = cluster.pidFile();
    const task = submit(fixture('deaf.mjs'), { log, grandchild: true });
    await until(() => readPids(log).length >= 2, 'the task and its grandchild', 15_000);
    const cancelledAt = Date.now();
    task.cancel();
    const outcome = await task.done;
    const elapsed = Date.now() - cancelledAt;
    expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
    // done means the work has stopped: the task process and its grandchild are gone already.
    for (const pid of readPids(log)) await waitGone([pid], 0);
    expect(elapsed).toBeGreaterThanOrEqual(600); // the grace period was honoured
  });

  it('CPU-bound on a worker thread and in a process: stopped hard; with gracePeriodMs 0 right away', async () => {
    const name = cluster.newCluster();
    await cluster.startAgent({ cluster: name, name: 'a1', executor: 'process,worker' });
    for (const agentExecutor of ['worker', 'process'] as const) {
      const { submit } = cluster.coordinator(
        { cluster: name, agentExecutor },
        { cancellation: { interruptIntervalMs: 5_000, gracePeriodMs: 0, timeoutMs: 10_000 } },
      );
      const log = cluster.pidFile();
      const task = submit(fixture('cpu-bound.mjs'), { log });
      await until(() => readLines(log).some((line) => line.event === 'spinning'), 'the loop to spin', 15_000);
      task.cancel();
      const outcome = await task.done;
      expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
      if (agentExecutor === 'process') for (const pid of readPids(log)) await waitGone([pid], 0);
    }
  });

  it("diagnose crosses the network: the agent's stack of the stuck task is in the taskStuck event", async () => {
    const name = cluster.newCluster();
    await cluster.startAgent({ cluster: name, name: 'a1', executor: 'process,worker' });
    for (const agentExecutor of ['process', 'worker'] as const) {
      const { runtime, submit } = cluster.coordinator(
        { cluster: name, agentExecutor },
        { cancellation: { interruptIntervalMs: 300, gracePeriodMs: 1_500, timeoutMs: 10_000 } },
      );
      const stuck: TaskStuckEvent[] = [];
      runtime.events.on('taskStuck', (event) => stuck.push(event));
      const log = cluster.pidFile();
      const task = submit(fixture('cpu-bound.mjs'), { log });
      await until(() => readLines(log).some((line) => line.event === 'spinning'), 'the loop to spin', 15_000);
      task.cancel();
      await until(
        () => stuck.some((event) => event.diagnostics?.includes('cpu-bound.mjs')),
        'a stuck report with a stack',
        10_000,
      );
      const event = stuck.find((candidate) =>
        candidate.diagnostics?.includes('cpu-bound.mjs'),
      ) as TaskStuckEvent;
      expect(event.task).toBe(task);
      expect(event.diagnostics).toContain('on agent a1');
      expect(event.diagnostics).toMatch(/cpuBound|cpu-bound\.mjs:\d+/);
      expect((await task.done).state).toBe('CANCELED');
    }
  });
});
