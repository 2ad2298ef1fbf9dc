import { AgentLostError } from '@taskwarden/cluster-nats';
import { describe, expect, it } from 'vitest';
import { AgentProcess } from './support/agent-process.js';
import { BlackholeProxy } from './support/blackhole-proxy.js';
import { fixture, readLines, readPids, useCluster } from './support/cluster-harness.js';
import { isGone, until, waitGone } from './support/pids.js';

/** Long enough that a machine loaded by other work does not make agents lose it by themselves. */
const LEASE_MS = 3_000;
/** The promise is leaseMs + the detection tick (250 ms); the rest is room for a loaded CI machine. */
const DETECTION_BOUND_MS = LEASE_MS + 250 + 1_000;

describe('an agent that is lost: its tasks end FAILED with AgentLostError once their work has stopped', () => {
  const cluster = useCluster();

  async function spinning(log: string): Promise<number[]> {
    await until(() => readLines(log).some((line) => line.event === 'spinning'), 'the task to spin', 15_000);
    return readPids(log);
  }

  it('SIGKILLed mid-task: lost within leaseMs + tick; a task it had not started runs on another agent', async () => {
    const name = cluster.newCluster();
    const a1 = await cluster.startAgent({ cluster: name, name: 'a1', capacity: 1, leaseMs: LEASE_MS });
    const { submit } = cluster.coordinator({ cluster: name });
    const log = cluster.pidFile();
    const running = submit(fixture('cpu-bound.mjs'), { log, grandchild: true });
    const pids = await spinning(log);
    const waiting = submit(fixture('echo.mjs'), 'later');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(waiting.state).toBe('DEPLOYING'); // a1 is full

    const killedAt = Date.now();
    await a1.kill();
    const outcome = await running.done;
    const lostAfter = Date.now() - killedAt;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(AgentLostError);
    expect(outcome.error).toMatchObject({ code: 'AGENT_LOST', agent: 'a1', reason: 'lease-expired' });
    expect(lostAfter).toBeLessThanOrEqual(DETECTION_BOUND_MS);
    for (const pid of pids) expect(isGone(pid)).toBe(true);

    await cluster.startAgent({ cluster: name, name: 'a2', leaseMs: LEASE_MS });
    expect(await waiting.done).toMatchObject({ state: 'FINISHED' });
  });

  it('SIGSTOPped mid-task: its child and grandchild end themselves; both are gone when done resolves; resumed, it fences and serves again', async () => {
    const name = cluster.newCluster();
    const a1 = await cluster.startAgent({ cluster: name, name: 'a1', leaseMs: LEASE_MS });
    const { submit, executor } = cluster.coordinator({ cluster: name });
    const log = cluster.pidFile();
    const task = submit(fixture('cpu-bound.mjs'), { log, grandchild: true });
    const pids = await spinning(log);
    expect(pids).toHaveLength(2);

    a1.signal('SIGSTOP');
    const outcome = await task.done;
    // The agent is still stopped: nobody but the processes themselves could have ended them.
    expect(isGone(a1.pid)).toBe(false);
    for (const pid of pids) expect(isGone(pid)).toBe(true);
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toMatchObject({ code: 'AGENT_LOST', agent: 'a1', reason: 'lease-expired' });

    a1.signal('SIGCONT');
    await a1.waitForLog((line) => String(line.msg).includes('holds its lease again'), 10_000, 'a new lease');
    await until(() => executor.stats.agents === 1, 'the coordinator to see a1 again');
    expect(await submit(fixture('echo.mjs'), 'after').done).toMatchObject({ state: 'FINISHED' });
  });

  it('partitioned (a blackholing proxy): it fences itself, is declared lost, and its late renewal cannot revive the lease', async () => {
    const name = cluster.newCluster();
    const proxy = await BlackholeProxy.start(cluster.server.port);
    try {
      const a1 = await AgentProcess.start({
        servers: proxy.url,
        cluster: name,
        name: 'a1',
        leaseMs: LEASE_MS,
      });
      cluster.adoptAgent(a1);
      const { submit, executor } = cluster.coordinator({ cluster: name });
      const log = cluster.pidFile();
      const task = submit(fixture('cpu-bound.mjs'), { log, grandchild: true });
      const pids = await spinning(log);

      const cutAt = Date.now();
      proxy.blackhole();
      const outcome = await task.done;
      expect(Date.now() - cutAt).toBeLessThanOrEqual(DETECTION_BOUND_MS);
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error).toMatchObject({ code: 'AGENT_LOST', agent: 'a1', reason: 'lease-expired' });
      // Fenced: the agent stopped its own work before its lease could be taken over.
      for (const pid of pids) expect(isGone(pid)).toBe(true);
      await a1.waitForLog(
        (line) => String(line.msg).includes('could not renew its lease in time'),
        1_000,
        'the fence',
      );

      proxy.heal();
      // What it sent during the partition arrives late and fails against the taken-over revision.
      await a1.waitForLog(
        (line) => String(line.msg).includes('was taken over'),
        10_000,
        'the late renewal to fail',
      );
      await a1.waitForLog(
        (line) => String(line.msg).includes('holds its lease again'),
        10_000,
        'a new lease',
      );
      await until(() => executor.stats.agents === 1, 'the coordinator to see a1 again');
      expect(await submit(fixture('echo.mjs'), 'healed').done).toMatchObject({ state: 'FINISHED' });
      await waitGone(pids, 0);
    } finally {
      await proxy.close();
    }
  });
});
