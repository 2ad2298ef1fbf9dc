import { describe, expect, it } from 'vitest';
import { agentStats } from './support/agent-stats.js';
import { fixture, readLines, useCluster } from './support/cluster-harness.js';
import { maxOverlap } from './support/intervals.js';

describe('capacity holds under a burst', () => {
  const cluster = useCluster();

  it('two coordinators burst 240 tasks at two agents of capacity 3: no agent ever runs more than 3, each task runs once', async () => {
    const name = cluster.newCluster();
    const agents = [
      await cluster.startAgent({ cluster: name, name: 'a1', capacity: 3, executor: 'worker' }),
      await cluster.startAgent({ cluster: name, name: 'a2', capacity: 3, executor: 'worker' }),
    ];
    const coordinators = [
      cluster.coordinator({ cluster: name, agentExecutor: 'worker' }),
      cluster.coordinator({ cluster: name, agentExecutor: 'worker', maxInFlight: 50 }),
    ];
    const log = cluster.file();
    let sampling = true;
    const samples: number[] = [];
    const sampler = (async () => {
      while (sampling) {
        const stats = await agentStats(cluster.server.url, name, ['a1', 'a2']);
        for (const agent of stats) {
          expect(agent.running).toBeLessThanOrEqual(3);
          samples.push(agent.running);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const tasks = coordinators.flatMap((coordinator) =>
      Array.from({ length: 120 }, (_, i) =>
        coordinator.submit(fixture('sleeper.mjs'), { log, ms: 10 + (i % 4) * 10 }),
      ),
    );
    const outcomes = await Promise.all(tasks.map((task) => task.done));
    sampling = false;
    await sampler;
    expect(outcomes.every((outcome) => outcome.state === 'FINISHED')).toBe(true);

    const lines = readLines(log);
    const starts = lines.filter((line) => line.event === 'start');
    expect(starts).toHaveLength(240);
    expect(new Set(starts.map((line) => line.id)).size).toBe(240);
    const ends = new Map(
      lines.filter((line) => line.event === 'end').map((line) => [line.id, line.at as number]),
    );
    for (const agent of agents) {
      // Worker threads share the agent's pid.
      const mine = starts.filter((line) => line.pid === agent.pid);
      expect(mine.length).toBeGreaterThan(0); // both agents got work
      const intervals = mine.map((line) => ({ start: line.at as number, end: ends.get(line.id) as number }));
      expect(maxOverlap(intervals)).toBeLessThanOrEqual(3);
    }
    expect(Math.max(...samples)).toBeLessThanOrEqual(3);
  });
});
