import { NatsClusterExecutor } from '@taskwarden/cluster-nats';
import { describeExecutorConformance } from '@taskwarden/sdk/testing/conformance';
import pino from 'pino';
import { afterAll, beforeAll, expect } from 'vitest';
import { AgentProcess } from './support/agent-process.js';
import { agentStats } from './support/agent-stats.js';
import type { TestNatsServer } from './support/nats-server.js';
import { startNatsServer } from './support/nats-server.js';
import { killSurvivors, waitGone } from './support/pids.js';

// The suite every executor passes, against a NatsClusterExecutor whose tasks run on two real agents
// (taskwarden-agent processes running tasks in child processes). `maxConcurrency` is the
// coordinator's maxInFlight; live resources are the agents' running tasks and child processes.
const cluster = `conformance${process.pid}`;
const agentNames = ['c1', 'c2'];
let server: TestNatsServer | undefined;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  // Each kept as it starts, so afterAll ends it even if the other one fails to start.
  await Promise.all(
    agentNames.map(async (name) => {
      agents.push(
        await AgentProcess.start({ servers: (server as TestNatsServer).url, cluster, name, capacity: 2 }),
      );
    }),
  );
}, 30_000);

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop()));
  const pids = agents.map((agent) => agent.pid);
  await waitGone(pids).catch(() => undefined);
  expect(killSurvivors(pids)).toEqual([]);
  await server?.stop();
}, 30_000);

describeExecutorConformance(
  'NatsClusterExecutor',
  ({ maxConcurrency }) =>
    new NatsClusterExecutor({
      // The suite builds one executor before the server exists, only to read its capabilities.
      servers: server?.url ?? 'nats://127.0.0.1:4222',
      cluster,
      agentExecutor: 'process',
      leaseMs: 3_000,
      maxInFlight: maxConcurrency,
      logger: pino({ level: 'silent' }),
    }),
  {
    liveResources: async () => {
      const stats = await agentStats((server as TestNatsServer).url, cluster, agentNames);
      return stats.reduce((sum, agent) => sum + agent.running + agent.pids.length, 0);
    },
  },
);
