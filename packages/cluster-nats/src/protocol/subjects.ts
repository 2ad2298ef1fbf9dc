/**
 * Names of everything the cluster uses on a NATS server, all under one cluster name (default
 * `'taskwarden'`), so several clusters can share a server:
 *
 * | what | name |
 * | --- | --- |
 * | leases of agents and coordinators (KV) | bucket `<cluster>-leases`, keys `a.<agent>` and `c.<coordinator>` |
 * | task records: one per live task, for cluster-wide duplicate ids and durable cancels (KV) | bucket `<cluster>-tasks`, key = the execution id in base64url |
 * | offers of tasks to an agent (request/reply) | `<cluster>.agent.<agent>.offer` |
 * | cancel, interrupt, kill, diagnose, stats of an agent (request/reply) | `<cluster>.agent.<agent>.control` |
 * | what an agent's tasks did: started, running, progress, outcome (request/reply) | `<cluster>.coord.<coordinator>.report` |
 * | "is this execution id live?" between coordinators (request/reply) | `<cluster>.coord.<coordinator>.live` |
 * | an agent has free capacity again (broadcast) | `<cluster>.free.<queue>` |
 * @internal
 * @module
 */

/** Cluster, queue, agent and coordinator names: one NATS subject token each. */
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

/** True when `name` can be a cluster, queue, agent or coordinator name. @internal */
export function isNameToken(name: unknown): name is string {
  return typeof name === 'string' && TOKEN.test(name);
}

/** Every subject, bucket and key of one cluster. @internal */
export class ClusterNames {
  readonly cluster: string;
  readonly tasksBucket: string;
  readonly leasesBucket: string;

  constructor(cluster: string) {
    this.cluster = cluster;
    this.tasksBucket = `${cluster}-tasks`;
    this.leasesBucket = `${cluster}-leases`;
  }

  agentOffer(agent: string): string {
    return `${this.cluster}.agent.${agent}.offer`;
  }

  agentControl(agent: string): string {
    return `${this.cluster}.agent.${agent}.control`;
  }

  coordinatorReport(coordinator: string): string {
    return `${this.cluster}.coord.${coordinator}.report`;
  }

  coordinatorLive(coordinator: string): string {
    return `${this.cluster}.coord.${coordinator}.live`;
  }

  free(queue: string): string {
    return `${this.cluster}.free.${queue}`;
  }
}

/** The KV key of an agent's lease. @internal */
export function agentLeaseKey(agent: string): string {
  return `a.${agent}`;
}

/** The KV key of a coordinator's lease. @internal */
export function coordinatorLeaseKey(coordinator: string): string {
  return `c.${coordinator}`;
}

/** The KV key of a task record: the execution id in base64url (KV keys allow few characters). @internal */
export function taskKey(executionId: string): string {
  return Buffer.from(executionId, 'utf8').toString('base64url');
}
