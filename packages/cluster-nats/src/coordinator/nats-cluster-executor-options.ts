/**
 * Options of {@link NatsClusterExecutor}.
 * @module
 */
import type { Logger } from '@taskwarden/sdk';

/** How a {@link NatsClusterExecutor} reaches the cluster and which agents run its tasks. */
export interface NatsClusterExecutorOptions {
  /** The NATS servers: a URL, a comma-separated list, or an array (`'nats://10.0.0.5:4222'`). */
  servers: string | readonly string[];
  /**
   * The queue whose agents run the tasks (Temporal's task queue): an agent serves one queue.
   * @default 'default'
   */
  queue?: string;
  /**
   * Which of an agent's executors runs the tasks (a key of `startAgent`'s `executors`, such as
   * `'process'` or `'worker'`). Agents without it get no tasks from this coordinator.
   * @default 'process'
   */
  agentExecutor?: string;
  /**
   * This coordinator's lease: agents stop its tasks once it has not been renewed for this long (the
   * coordinator died or was cut off). Also the longest agent lease it accepts: an agent with a longer
   * one gets no tasks, since its loss would take longer to detect than `capabilities.hardStopMs`
   * promises the runtime.
   * @default 3000
   */
  leaseMs?: number;
  /**
   * The cluster's name: the prefix of its subjects and buckets. Agents and coordinators of one cluster
   * use the same one.
   * @default 'taskwarden'
   */
  cluster?: string;
  /**
   * The most tasks this coordinator has registered with the cluster at once (offered or running);
   * more wait in DEPLOYING, unseen by the cluster.
   * @default Infinity
   */
  maxInFlight?: number;
  /**
   * How long connecting may take before the tasks waiting for it fail with `ClusterUnreachableError`.
   * @default 5000
   */
  connectTimeoutMs?: number;
  /**
   * This coordinator's id in the cluster (a NATS subject token, unique in the cluster).
   * @default `<hostname>-<pid>-<random>`, made into a valid token
   */
  id?: string;
  /**
   * A pino logger for what the coordinator itself logs (lost agents, garbage on its subjects).
   * @default the SDK's default logger: `warn` and above to stderr
   */
  logger?: Logger;
}
