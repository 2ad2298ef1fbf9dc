import { AgentLostError } from '@taskwarden/cluster-nats';
import type { Task } from '@taskwarden/sdk';
import { describe, expect, it } from 'vitest';
import { fixture, readLines, useCluster } from './support/cluster-harness.js';

describe('nats-server killed (kill -9) and restarted with the same store during a storm', () => {
  const cluster = useCluster();

  it('every task ends, none starts twice, and cancels sent while the server was down are applied', {
    timeout: 90_000,
  }, async () => {
    const name = cluster.newCluster();
    // Leases long enough to outlast the restart: nobody needs to be declared lost.
    for (const agent of ['r1', 'r2']) {
      await cluster.startAgent({
        cluster: name,
        name: agent,
        capacity: 6,
        executor: 'worker',
        leaseMs: 4_000,
      });
    }
    const { submit, executor } = cluster.coordinator(
      { cluster: name, agentExecutor: 'worker', leaseMs: 4_000 },
      { cancellation: { interruptIntervalMs: 1_000, gracePeriodMs: 500, timeoutMs: 20_000 } },
    );
    await executor.connect();
    const log = cluster.file();
    const tasks: Task[] = [];
    const cancelledWhileDown: Task[] = [];
    for (let i = 0; i < 150; i++)
      tasks.push(submit(fixture('sleeper.mjs'), { log, ms: 100 + (i % 5) * 100 }));
    await new Promise((resolve) => setTimeout(resolve, 400));

    await cluster.server.kill9();
    // While the server is down: more submissions, and cancels of running and waiting tasks.
    for (let i = 0; i < 50; i++) tasks.push(submit(fixture('sleeper.mjs'), { log, ms: 100 }));
    for (const task of tasks.filter((_, index) => index % 7 === 3)) {
      cancelledWhileDown.push(task);
      task.cancel();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await cluster.server.restart();

    const outcomes = await Promise.all(tasks.map((task) => task.done));
    expect(outcomes.filter((outcome) => outcome.abandoned)).toEqual([]);
    // An agent that could not renew its lease while the server restarted fenced itself: its tasks
    // end FAILED with AgentLostError once stopped. Nothing else fails.
    for (const outcome of outcomes.filter((candidate) => candidate.state === 'FAILED')) {
      expect(outcome.error, outcome.error?.stack).toBeInstanceOf(AgentLostError);
    }
    const fenced = outcomes.filter((outcome) => outcome.state === 'FAILED').length;
    console.log(`server restart: ${fenced} of ${outcomes.length} tasks ended with a fenced agent`);
    // No cancel was lost: each cancelled task ended CANCELED, unless its work had already returned.
    for (const task of cancelledWhileDown) {
      const outcome = await task.done;
      expect(outcome.cancellationRequested).toBe(true);
      expect(['CANCELED', 'FINISHED']).toContain(outcome.state);
    }
    expect(cancelledWhileDown.filter((task) => task.state === 'CANCELED').length).toBeGreaterThan(0);
    const starts = readLines(log).filter((line) => line.event === 'start');
    const perId = new Map<unknown, number>();
    for (const line of starts) perId.set(line.id, (perId.get(line.id) ?? 0) + 1);
    expect([...perId.values()].filter((count) => count > 1)).toEqual([]);
    expect(executor.stats.inFlight).toBe(0);
  });
});
