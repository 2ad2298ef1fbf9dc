/**
 * `startAgent`: validates the options, derives the fencing margin, connects, takes the agent's lease.
 * @module
 */
import { availableParallelism, hostname } from 'node:os';
import type { Executor } from '@taskwarden/sdk';
import { createDefaultLogger } from '@taskwarden/sdk';
import { connectCluster } from '../nats/cluster-connection.js';
import { checkKeys, countOption, msOption, nameOption, serversOption } from '../option-checks.js';
import { GarbageLog } from '../protocol/garbage-log.js';
import { ClusterNames } from '../protocol/subjects.js';
import { Agent } from './agent.js';
import type { AgentOptions } from './agent-options.js';
import { agentLeaseTiming } from './fencing-margin.js';

const OPTION_KEYS = [
  'servers',
  'name',
  'queue',
  'capacity',
  'executors',
  'leaseMs',
  'cluster',
  'connectTimeoutMs',
  'logger',
] as const;

/**
 * Starts an agent: it connects, takes its lease and serves its queue until `agent.close()`.
 *
 * @example
 * ```ts
 * import { startAgent } from '@taskwarden/cluster-nats';
 * import { ProcessExecutor } from '@taskwarden/executor-process';
 * import { WorkerExecutor } from '@taskwarden/executor-local';
 *
 * const agent = await startAgent({
 *   servers: 'nats://127.0.0.1:4222',
 *   name: 'agent-1',
 *   queue: 'default',
 *   capacity: 4,
 *   executors: { process: new ProcessExecutor({ hostLease: true, killGraceMs: 500 }), worker: new WorkerExecutor() },
 *   leaseMs: 3_000,
 * });
 * process.once('SIGTERM', () => void agent.close({ graceMs: 5_000 }));
 * ```
 *
 * @throws TypeError or RangeError naming a bad option; a RangeError with the numbers when `leaseMs`
 * cannot hold the fencing margin; a TypeError for an executor that cannot stop work hard or a
 * `ProcessExecutor` without `hostLease`.
 * @throws ClusterUnreachableError when no server answers within `connectTimeoutMs`, naming them.
 * @throws UnsupportedServerError when the server is older than 2.9.0 or has no JetStream.
 * @throws LeaseHeldError when a live agent already has this name.
 */
export async function startAgent(options: AgentOptions): Promise<Agent> {
  const who = 'startAgent';
  checkKeys(options, OPTION_KEYS, who);
  const servers = serversOption(options.servers, who);
  const defaultName = `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(-128);
  const name = nameOption(options.name, 'name', defaultName, who);
  const queue = nameOption(options.queue, 'queue', 'default', who);
  const capacity = countOption(options.capacity, 'capacity', availableParallelism(), 1, who);
  const leaseMs = msOption(options.leaseMs, 'leaseMs', 3_000, 1, who);
  const names = new ClusterNames(nameOption(options.cluster, 'cluster', 'taskwarden', who));
  const connectTimeoutMs = msOption(options.connectTimeoutMs, 'connectTimeoutMs', 5_000, 1, who);
  const executors = executorsOption(options.executors);
  if (options.logger !== undefined && (typeof options.logger !== 'object' || options.logger === null)) {
    throw new TypeError(`${who}: options.logger must be a pino logger`);
  }
  const timing = agentLeaseTiming(leaseMs, executors);
  const logger = (options.logger ?? createDefaultLogger()).child({ agent: name });
  const conn = await connectCluster({
    servers,
    name: `taskwarden-agent ${name}`,
    names,
    connectTimeoutMs,
    leaseMs,
  });
  try {
    return await Agent.start({
      name,
      queue,
      capacity,
      executors,
      timing,
      conn,
      names,
      logger,
      garbage: new GarbageLog(logger),
    });
  } catch (error) {
    await conn.nc.close().catch(() => undefined);
    throw error;
  }
}

function executorsOption(value: unknown): Readonly<Record<string, Executor>> {
  if (typeof value !== 'object' || value === null || Object.keys(value).length === 0) {
    throw new TypeError(
      'startAgent: options.executors must name at least one executor, e.g. { process: new ProcessExecutor({ hostLease: true }) }',
    );
  }
  for (const [key, executor] of Object.entries(value)) {
    const candidate = executor as Partial<Executor> | null;
    if (
      typeof candidate !== 'object' ||
      candidate === null ||
      typeof candidate.launch !== 'function' ||
      !candidate.capabilities
    ) {
      throw new TypeError(`startAgent: options.executors.${key} is not an executor`);
    }
    const leased = candidate as { renewHostLease?: (ms: number) => void };
    if (typeof leased.renewHostLease === 'function') {
      try {
        // A no-op for an executor without children yet; throws for one created without hostLease.
        leased.renewHostLease(0);
      } catch {
        throw new TypeError(
          `startAgent: options.executors.${key} must be created with { hostLease: true }: an agent's child processes must end themselves when the agent is paused and cannot stop them`,
        );
      }
    }
  }
  return value as Readonly<Record<string, Executor>>;
}
