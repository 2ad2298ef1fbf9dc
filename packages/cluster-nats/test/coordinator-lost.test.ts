import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fixture, readLines, readPids, useCluster } from './support/cluster-harness.js';
import { until, waitGone } from './support/pids.js';

describe('a coordinator that dies: agents stop its remote tasks (no orphans)', () => {
  const cluster = useCluster();

  it('SIGKILLed coordinator: its deaf tasks (and their grandchildren) on two agents are gone within leaseMs + gracePeriodMs + a hard stop', async () => {
    const name = cluster.newCluster();
    const a1 = await cluster.startAgent({ cluster: name, name: 'a1', capacity: 2 });
    const a2 = await cluster.startAgent({ cluster: name, name: 'a2', capacity: 2 });
    const log = cluster.pidFile();
    const gracePeriodMs = 500;
    const host = spawn(
      process.execPath,
      [fixture('coordinator-host.mjs'), cluster.server.url, name, log, '4', String(gracePeriodMs)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    cluster.trackPid(host.pid as number);
    const exited = new Promise((resolve) => host.once('exit', resolve));
    // Four deaf tasks, each with a grandchild, spread over both agents.
    await until(
      () => readLines(log).filter((line) => line.role === 'grandchild').length === 4,
      'four tasks with grandchildren',
      20_000,
    );
    const pids = readPids(log);
    expect(pids).toHaveLength(8);
    const agentsUsed = new Set(
      readLines(log)
        .filter((line) => line.event === 'start')
        .map((line) => line.ppid),
    );
    expect(agentsUsed).toEqual(new Set([a1.pid, a2.pid]));

    host.kill('SIGKILL');
    await exited;
    // Lease 3 s + detection, then cancel, 500 ms grace, SIGTERM (ignored), SIGKILL 200 ms later.
    await waitGone(pids, 3_000 + 250 + gracePeriodMs + 200 + 2_000);
    // Stopped hard, as they ignore cancellation: each got the SIGTERM of the hard stop (and ignored it).
    expect(readLines(log).filter((line) => line.event === 'ignored-sigterm')).toHaveLength(4);
    // The agents noticed and stopped the tasks (they logged it), and are serving again.
    for (const agent of [a1, a2]) {
      await agent.waitForLog(
        (line) => String(line.msg).includes('is gone: stopping its tasks'),
        10_000,
        'the coordinator loss',
      );
      expect(agent.alive).toBe(true);
    }
    const { submit } = cluster.coordinator({ cluster: name });
    expect(await submit(fixture('echo.mjs'), 1).done).toMatchObject({ state: 'FINISHED' });
  });
});
