import { describe, expect, it } from 'vitest';
import { fixture, useCluster } from './support/cluster-harness.js';

describe('results and errors round trip through an agent', () => {
  const cluster = useCluster();

  it('returns the result by structured clone, with ctx.task carrying the fencing token', async () => {
    const name = cluster.newCluster();
    await cluster.startAgent({ cluster: name, name: 'a1', executor: 'process,worker' });
    for (const agentExecutor of ['process', 'worker'] as const) {
      const { submit } = cluster.coordinator({ cluster: name, agentExecutor });
      const input = { text: 'héllo', when: new Date(0), big: 10n, list: [1, 2, 3], map: new Map([['k', 1]]) };
      const task = submit(fixture('echo.mjs'), input, { name: 'echo', attempt: 2 });
      const outcome = await task.done;
      expect(outcome).toMatchObject({ state: 'FINISHED', cancellationRequested: false, abandoned: false });
      const result = outcome.result as { input: unknown; task: Record<string, unknown> };
      expect(result.input).toEqual(input);
      expect(result.task).toMatchObject({
        executionId: task.executionId,
        jobId: 'job',
        name: 'echo',
        attempt: 2,
      });
      expect(result.task.fencingToken).toBeGreaterThan(0);
    }
  });

  it('fails with the error thrown on the agent: name, message, stack, code and fields', async () => {
    const name = cluster.newCluster();
    await cluster.startAgent({ cluster: name, name: 'a1' });
    const { submit } = cluster.coordinator({ cluster: name });
    const task = submit(fixture('throws.mjs'), { message: 'it broke over there' });
    const outcome = await task.done;
    expect(outcome.state).toBe('FAILED');
    const error = outcome.error as Error & { code?: string; detail?: unknown };
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('RemoteError');
    expect(error.message).toBe('it broke over there');
    expect(error.code).toBe('E_REMOTE');
    expect(error.detail).toEqual({ when: new Date(0), tags: ['a', 'b'], big: 7n });
    expect(error.stack).toContain('throws.mjs');
    expect(task.failureCause).toBe(error);
  });

  it('fencing tokens grow with every assignment', async () => {
    const name = cluster.newCluster();
    await cluster.startAgent({ cluster: name, name: 'a1' });
    const { submit } = cluster.coordinator({ cluster: name, agentExecutor: 'process' });
    const tokens: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      // The same execution id submitted again once the previous attempt is done (a retry).
      const outcome = await submit(fixture('echo.mjs'), attempt, { executionId: 'retried', attempt }).done;
      expect(outcome.state).toBe('FINISHED');
      tokens.push((outcome.result as { task: { fencingToken: number } }).task.fencingToken);
    }
    expect(tokens[1]).toBeGreaterThan(tokens[0] as number);
    expect(tokens[2]).toBeGreaterThan(tokens[1] as number);
  });
});
