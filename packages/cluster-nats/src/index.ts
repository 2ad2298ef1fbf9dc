/**
 * `@taskwarden/cluster-nats`: run taskwarden tasks on many machines over NATS JetStream, with the
 * same promises as on one: every cancellation ends (within the ladder's bound, or within an agent's
 * lease when it cannot be reached), work is stopped for real (agents fence themselves, their child
 * processes end themselves when the agent is paused), and nothing outlives its coordinator.
 *
 * @example
 * ```ts
 * // on each worker machine (or: npx taskwarden-agent --servers nats://10.0.0.5:4222 --capacity 8)
 * import { startAgent } from '@taskwarden/cluster-nats';
 * import { ProcessExecutor } from '@taskwarden/executor-process';
 * const agent = await startAgent({
 *   servers: 'nats://10.0.0.5:4222', name: 'agent-1', queue: 'default', capacity: 4,
 *   executors: { process: new ProcessExecutor({ hostLease: true, killGraceMs: 500 }) }, leaseMs: 3_000,
 * });
 *
 * // in the host application (the coordinator)
 * import { createRuntime } from '@taskwarden/sdk';
 * import { NatsClusterExecutor } from '@taskwarden/cluster-nats';
 * const remote = new NatsClusterExecutor({ servers: 'nats://10.0.0.5:4222', queue: 'default',
 *                                          agentExecutor: 'process', leaseMs: 3_000 });
 * const runtime = createRuntime({ numberOfSlots: 32, executors: { remote }, defaultExecutor: 'remote' });
 * ```
 * @module
 */
export type { AgentStats } from './agent/agent.js';
export { Agent } from './agent/agent.js';
export type { AgentCloseOptions, AgentOptions } from './agent/agent-options.js';
export { startAgent } from './agent/start-agent.js';
export type { NatsClusterExecutorStats } from './coordinator/nats-cluster-executor.js';
export { DETECTION_TICK_MS, NatsClusterExecutor } from './coordinator/nats-cluster-executor.js';
export type { NatsClusterExecutorOptions } from './coordinator/nats-cluster-executor-options.js';
export type { AgentLostReason } from './errors.js';
export { AgentLostError, ClusterUnreachableError, LeaseHeldError, UnsupportedServerError } from './errors.js';
export { MINIMUM_SERVER_VERSION } from './nats/cluster-connection.js';
