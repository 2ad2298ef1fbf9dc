import { captureLogger } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { fixture, readLines, readPids, useCluster } from './support/cluster-harness.js';
import { until, waitGone } from './support/pids.js';

describe('agent drain on close (SIGTERM to taskwarden-agent)', () => {
  const cluster = useCluster();

  it('running tasks end CANCELED, queued ones are left for other agents, the lease is released, exit 0', async () => {
    const name = cluster.newCluster();
    const a1 = await cluster.startAgent({ cluster: name, name: 'a1', capacity: 2, graceMs: 500 });
    const captured = captureLogger('warn');
    const { submit, executor } = cluster.coordinator({ cluster: name, logger: captured.logger });
    const log = cluster.pidFile();
    const cooperative = submit(fixture('cooperative.mjs'), { log });
    const deaf = submit(fixture('deaf.mjs'), { log });
    await until(
      () => readLines(log).filter((line) => line.event === 'start').length === 2,
      'both tasks to start',
      15_000,
    );
    const queued = submit(fixture('echo.mjs'), 'queued');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(queued.state).toBe('DEPLOYING');

    a1.signal('SIGTERM');
    expect(await a1.exited).toEqual({ code: 0, signal: null });
    // Cancelled by the drain: the cooperative one by its signal, the deaf one hard after graceMs.
    for (const task of [cooperative, deaf]) {
      const outcome = await task.done;
      expect(outcome, String(outcome.error?.stack)).toMatchObject({
        state: 'CANCELED',
        cancellationRequested: true,
        abandoned: false,
      });
    }
    expect(readLines(log).some((line) => line.event === 'cancel-hook')).toBe(true);
    await waitGone(readPids(log), 0);
    // Never claimed during the drain: still waiting for an agent.
    expect(queued.state).toBe('DEPLOYING');
    await until(() => executor.stats.agents === 0, 'the released lease to be seen');

    // Released, not expired: the coordinator saw it released (it never had to take it over), and an
    // agent of the same name can start at once; it takes the queued task.
    expect(
      captured.lines.some((line) => String(line.msg).includes('agent a1 is lost (lease-released)')),
    ).toBe(true);
    await cluster.startAgent({ cluster: name, name: 'a1' });
    expect(await queued.done).toMatchObject({ state: 'FINISHED', result: { input: 'queued' } });
  });

  it('a second agent with a live name is refused (LeaseHeldError) and exits 1', async () => {
    const name = cluster.newCluster();
    await cluster.startAgent({ cluster: name, name: 'a1' });
    const twin = await cluster.startAgent({ cluster: name, name: 'a1', waitReady: false });
    expect(await twin.exited).toEqual({ code: 1, signal: null });
    expect(twin.lines.some((line) => String(line.msg).includes('is held by a live holder'))).toBe(true);
  });
});
