/**
 * Errors of `@taskwarden/cluster-nats`. Each extends `TaskwardenError` with one `code`, so
 * `TaskwardenError.is`, `instanceof` and a `switch` on `code` work across copies of the SDK.
 * @module
 */
import { ErrorCode, nameErrorClass, TaskwardenError } from '@taskwarden/sdk';

/**
 * Why an agent counts as lost for a task:
 * - `'lease-expired'`: its lease was not renewed for `leaseMs` (killed, paused, partitioned, or cut
 *   off from the server) and was taken over by compare-and-set; the agent had fenced itself by then.
 * - `'lease-released'`: it released its lease (it closed) without reporting the task's outcome.
 * - `'fenced'`: the agent itself stopped the task because it could not renew its lease in time.
 * - `'coordinator-lease-lost'`: this coordinator could not renew its own lease; agents stopped its
 *   tasks (after each task's `gracePeriodMs` and a hard stop) and the outcome never arrived.
 */
export type AgentLostReason = 'lease-expired' | 'lease-released' | 'fenced' | 'coordinator-lease-lost';

/**
 * The agent that ran (or may have run) a remote task was lost. The task ends FAILED with it once the
 * work has stopped for certain: a lost agent has fenced itself (and its child processes have ended
 * themselves) before its lease can be taken over. The task may have had effects: submit it again, with
 * `attempt + 1`, if that is safe.
 *
 * @example
 * ```ts
 * const outcome = await task.done;
 * if (outcome.error instanceof AgentLostError) resubmit({ attempt: 2 });
 * ```
 */
export class AgentLostError extends TaskwardenError<typeof ErrorCode.AGENT_LOST> {
  static {
    nameErrorClass(AgentLostError, 'AgentLostError');
  }
  declare readonly name: 'AgentLostError';
  /** The agent's name. */
  readonly agent: string;
  /** The task's execution id. */
  readonly executionId: string;
  /** How the agent was lost. */
  readonly reason: AgentLostReason;

  constructor(ctx: { agent: string; executionId: string; reason: AgentLostReason }) {
    super(
      ErrorCode.AGENT_LOST,
      `task ${ctx.executionId}: agent ${ctx.agent} was lost (${describeReason(ctx.reason)})`,
    );
    this.agent = ctx.agent;
    this.executionId = ctx.executionId;
    this.reason = ctx.reason;
  }
}

function describeReason(reason: AgentLostReason): string {
  switch (reason) {
    case 'lease-expired':
      return 'its lease expired and was taken over; it had stopped its work';
    case 'lease-released':
      return 'it released its lease without reporting the outcome';
    case 'fenced':
      return 'it could not renew its lease in time and stopped its work';
    case 'coordinator-lease-lost':
      return "this coordinator's own lease ran out; agents stopped its tasks";
  }
}

/**
 * None of the NATS servers answered: refused, unreachable, or too slow to accept a connection within
 * `connectTimeoutMs`. `servers` lists them; `cause` is the client's error.
 */
export class ClusterUnreachableError extends TaskwardenError<typeof ErrorCode.CLUSTER_UNREACHABLE> {
  static {
    nameErrorClass(ClusterUnreachableError, 'ClusterUnreachableError');
  }
  declare readonly name: 'ClusterUnreachableError';
  /** The servers that were tried. */
  readonly servers: readonly string[];

  constructor(servers: readonly string[], cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(ErrorCode.CLUSTER_UNREACHABLE, `cannot reach the NATS servers ${servers.join(', ')}: ${why}`, {
      cause,
    });
    this.servers = [...servers];
  }
}

/**
 * The NATS server is older than the minimum (2.9.0) or runs without JetStream (`-js`). `version` is
 * what the server reported.
 */
export class UnsupportedServerError extends TaskwardenError<typeof ErrorCode.UNSUPPORTED_SERVER> {
  static {
    nameErrorClass(UnsupportedServerError, 'UnsupportedServerError');
  }
  declare readonly name: 'UnsupportedServerError';
  /** The server's version, e.g. `'2.8.4'`. */
  readonly version: string;
  /** Whether the server has JetStream enabled. */
  readonly jetstream: boolean;
  /** The server the client was connected to. */
  readonly server: string;

  constructor(ctx: { server: string; version: string; jetstream: boolean; minimum: string }) {
    const problem = !ctx.jetstream
      ? 'has no JetStream (start it with -js)'
      : `is older than the minimum ${ctx.minimum}`;
    super(ErrorCode.UNSUPPORTED_SERVER, `NATS server ${ctx.server} (version ${ctx.version}) ${problem}`);
    this.version = ctx.version;
    this.jetstream = ctx.jetstream;
    this.server = ctx.server;
  }
}

/**
 * Another live agent holds the lease of this agent name (agent names are unique in a cluster). An
 * agent that crashed holds its lease for up to `leaseMs`; `startAgent` waits that long before it
 * gives up with this error.
 */
export class LeaseHeldError extends TaskwardenError<typeof ErrorCode.LEASE_HELD> {
  static {
    nameErrorClass(LeaseHeldError, 'LeaseHeldError');
  }
  declare readonly name: 'LeaseHeldError';
  /** The lease key, e.g. `a.agent-1`. */
  readonly key: string;
  /** The holder's host and pid, as its lease says. */
  readonly holder: { readonly host: string; readonly pid: number };

  constructor(key: string, holder: { host: string; pid: number }) {
    super(
      ErrorCode.LEASE_HELD,
      `the lease ${key} is held by a live holder (pid ${holder.pid} on ${holder.host}), which keeps renewing it`,
    );
    this.key = key;
    this.holder = { host: holder.host, pid: holder.pid };
  }
}
