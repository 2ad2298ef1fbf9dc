import { startAgent } from '@taskwarden/cluster-nats';
import type { Execution, Executor, LaunchSpec } from '@taskwarden/sdk';
import { BaseExecution } from '@taskwarden/sdk';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { useCluster } from './support/cluster-harness.js';

/**
 * An executor whose work reports progress (the built-in thread and process executors do not carry
 * `ctx.reportProgress` yet): 0.25, 0.5, 0.75, then it returns. It can be stopped hard, so an agent
 * accepts it.
 */
class SteppingExecution extends BaseExecution {
  readonly #timer: NodeJS.Timeout;
  #step = 0;

  constructor(spec: LaunchSpec) {
    super(spec);
    this.markRunning();
    this.#timer = setInterval(() => {
      this.#step++;
      if (this.#step < 4) this.reportProgress({ done: this.#step / 4 });
      else {
        clearInterval(this.#timer);
        this.resolve('stepped');
      }
    }, 20);
  }

  protected onCancel(reason: Error): void {
    clearInterval(this.#timer);
    this.reject(reason);
  }

  async kill(): Promise<void> {
    clearInterval(this.#timer);
    this.reject(new Error('killed'));
  }
}

class SteppingExecutor implements Executor {
  readonly name = 'stepping';
  readonly capabilities = {
    hardStop: true,
    diagnostics: false,
    isolation: 'thread',
    hardStopMs: 10,
  } as const;
  launch(spec: LaunchSpec): Execution {
    return new SteppingExecution(spec);
  }
  async close(): Promise<void> {}
}

describe('progress crosses the network', () => {
  const cluster = useCluster();

  it("the work's progress reports reach the coordinator's task and its taskProgress events, in order", async () => {
    const name = cluster.newCluster();
    const agent = await startAgent({
      servers: cluster.server.url,
      cluster: name,
      name: 'p1',
      executors: { stepping: new SteppingExecutor() },
      logger: pino({ level: 'silent' }),
    });
    try {
      const { runtime, submit } = cluster.coordinator({ cluster: name, agentExecutor: 'stepping' });
      const seen: unknown[] = [];
      runtime.events.on('taskProgress', ({ progress }) => seen.push(progress));
      const task = submit('/unused/by/this/executor.mjs');
      expect(await task.done).toMatchObject({ state: 'FINISHED', result: 'stepped' });
      expect(seen).toEqual([{ done: 0.25 }, { done: 0.5 }, { done: 0.75 }]);
    } finally {
      await agent.close();
    }
  });
});
