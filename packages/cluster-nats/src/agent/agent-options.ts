/**
 * Options of `startAgent`.
 * @module
 */
import type { Executor, Logger } from '@taskwarden/sdk';

/** How an agent reaches the cluster, what it serves and what it runs tasks on. */
export interface AgentOptions {
  /** The NATS servers: a URL, a comma-separated list, or an array (`'nats://10.0.0.5:4222'`). */
  servers: string | readonly string[];
  /**
   * The agent's name, unique in the cluster (a NATS subject token). A second live agent with the same
   * name is refused with `LeaseHeldError`; after a crash the name is free again within `leaseMs`.
   * @default `<hostname>-<pid>`, made into a valid token
   */
  name?: string;
  /**
   * The queue it serves (Temporal's task queue): it takes tasks only from coordinators of this queue.
   * @default 'default'
   */
  queue?: string;
  /**
   * Tasks it runs at once, never exceeded (work counts until it has stopped).
   * @default os.availableParallelism()
   */
  capacity?: number;
  /**
   * Where tasks run, by the key coordinators name as `agentExecutor`: typically
   * `{ process: new ProcessExecutor({ hostLease: true }), worker: new WorkerExecutor() }`. Each must
   * be able to stop work hard (`capabilities.hardStop`); a `ProcessExecutor` must have `hostLease`,
   * so that its children end themselves when the agent is paused. The agent closes them on `close()`.
   */
  executors: Readonly<Record<string, Executor>>;
  /**
   * The agent's lease. Unrenewed this long (killed, paused, cut off), the agent is declared lost and
   * its tasks end FAILED with `AgentLostError` on their coordinators; it fences itself before that
   * (stops all its tasks hard). Must leave room for the fencing margin: the slowest executor's hard
   * stop (`capabilities.hardStopMs`) plus 100 ms, plus at least 200 ms to renew in.
   * @default 3000
   */
  leaseMs?: number;
  /** The cluster's name, as the coordinators use it. @default 'taskwarden' */
  cluster?: string;
  /** How long connecting may take before `startAgent` fails with `ClusterUnreachableError`. @default 5000 */
  connectTimeoutMs?: number;
  /** A pino logger. @default the SDK's default logger: `warn` and above to stderr */
  logger?: Logger;
}

/** Options of `agent.close()`. */
export interface AgentCloseOptions {
  /**
   * How long cancelled tasks may take to stop by themselves before they are stopped hard.
   * @default 5000
   */
  graceMs?: number;
}
