import { describe, expect, it } from 'vitest';
import { type AgentDirectory, type AgentView, TRUNCATION_MARKER } from '../src/index.js';
import { Harness, http } from './support/harness.js';
import { SseClient } from './support/sse-client.js';

const AGENTS: AgentView[] = [
  { name: 'agent-1', queue: 'default', capacity: 4, running: 2, leaseAgeMs: 850, tasks: ['t-1', 't-2'] },
  { name: 'agent-2', queue: 'gpu', capacity: 1, running: 0, leaseAgeMs: 120, tasks: [] },
];

describe('agents view (any AgentDirectory, e.g. a NatsClusterExecutor)', () => {
  it('lists the agents of a plain object directory in the snapshot', async () => {
    const directory: AgentDirectory = { agents: () => AGENTS };
    await using harness = await Harness.start({ inspector: { agents: directory } });
    const { json } = await http(harness.url('api/snapshot'));
    expect(json.agents).toEqual(AGENTS.map((agent) => ({ ...agent, tasksOmitted: 0 })));
    expect(json.agentsError).toBeUndefined();
  });

  it('awaits an asynchronous directory, and reads it afresh for every snapshot', async () => {
    let running = 0;
    const directory: AgentDirectory = {
      agents: async () => [{ ...AGENTS[0], running: ++running } as AgentView],
    };
    await using harness = await Harness.start({ inspector: { agents: directory } });
    expect((await http(harness.url('api/snapshot'))).json.agents[0].running).toBe(1);
    expect((await http(harness.url('api/snapshot'))).json.agents[0].running).toBe(2);
  });

  it('has no agents key without a directory', async () => {
    await using harness = await Harness.start();
    const { json } = await http(harness.url('api/snapshot'));
    expect('agents' in json).toBe(false);
    expect('agentsError' in json).toBe(false);
  });

  it.each<[string, AgentDirectory, RegExp]>([
    [
      'throws',
      {
        agents: () => {
          throw new Error('nats is down');
        },
      },
      /nats is down/,
    ],
    [
      'rejects',
      { agents: () => Promise.reject(new Error('lease store unreachable')) },
      /lease store unreachable/,
    ],
    ['hangs', { agents: () => new Promise<never>(() => {}) }, /did not answer within 50 ms/],
    // biome-ignore lint/suspicious/noExplicitAny: a directory that breaks its contract
    ['returns no list', { agents: () => ({ length: 1 }) as any }, /did not return an array/],
  ])(
    'shows why when the directory %s, and the rest of the snapshot is intact',
    async (_what, directory, message) => {
      await using harness = await Harness.start({ inspector: { agents: directory, agentsTimeoutMs: 50 } });
      const answer = await http(harness.url('api/snapshot'));
      expect(answer.status).toBe(200);
      expect(answer.json.agentsError).toMatch(message);
      expect(answer.json.agents).toBeUndefined();
      expect(answer.json.health).toBe('running');
      await http(harness.url('api/snapshot'));
      // Logged once per distinct failure, not once per snapshot.
      expect(
        harness.logLines.filter((line) => line.msg === 'inspector: the agents directory failed'),
      ).toHaveLength(1);
    },
  );

  it('checks and cuts every field of what the directory returns', async () => {
    const hostile = [
      {
        name: `<b>${'n'.repeat(10_000)}`,
        queue: 42,
        capacity: Number.NaN,
        running: '3',
        leaseAgeMs: Number.POSITIVE_INFINITY,
        tasks: Array.from({ length: 150 }, (_, i) => `t${i}`),
      },
      null,
      { tasks: 'not a list' },
    ];
    // biome-ignore lint/suspicious/noExplicitAny: a directory that breaks its contract
    await using harness = await Harness.start({ inspector: { agents: { agents: () => hostile as any } } });
    const { json } = await http(harness.url('api/snapshot'));
    const [first, second, third] = json.agents;
    expect(first.name).toContain(TRUNCATION_MARKER);
    expect(first.name.length).toBeLessThan(300);
    expect(first).toMatchObject({
      queue: '42',
      capacity: null,
      running: null,
      leaseAgeMs: null,
      tasksOmitted: 50,
    });
    expect(first.tasks).toHaveLength(100);
    expect(second).toEqual({
      name: '',
      queue: '',
      capacity: null,
      running: null,
      leaseAgeMs: null,
      tasks: [],
      tasksOmitted: 0,
    });
    expect(third.tasks).toEqual([]);
  });

  it('reads the directory once for a burst of new streams, not once per stream', async () => {
    let reads = 0;
    const directory: AgentDirectory = {
      agents: () => {
        reads += 1;
        return AGENTS;
      },
    };
    await using harness = await Harness.start({ inspector: { agents: directory } });
    const first = await SseClient.open(harness.url('api/events'));
    await first.next((m) => m.event === 'agents', 'the agents event');
    const burst = await Promise.all(
      Array.from({ length: 20 }, () => SseClient.open(harness.url('api/events'))),
    );
    await Promise.all(burst.map((client) => client.next((m) => m.event === 'snapshot', 'a snapshot')));
    // Each new stream's snapshot carries the agents already read.
    expect(burst.every((client) => client.named('snapshot')[0]?.data.agents.length === 2)).toBe(true);
    expect(reads).toBe(1);
    expect(first.named('agents')).toHaveLength(1);
    for (const client of [first, ...burst]) client.close();
  });

  it('sends the agents on the event stream as an agents event', async () => {
    await using harness = await Harness.start({ inspector: { agents: { agents: () => AGENTS } } });
    const client = await SseClient.open(harness.url('api/events'));
    const message = await client.next((m) => m.event === 'agents', 'the agents event');
    expect(message.data.agents.map((agent: AgentView) => agent.name)).toEqual(['agent-1', 'agent-2']);
    client.close();
  });
});
