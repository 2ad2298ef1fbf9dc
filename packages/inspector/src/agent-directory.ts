/**
 * One agent of a cluster, as the inspector shows it. Every field is read defensively: strings are
 * cut, numbers that are not finite are shown as unknown.
 */
export interface AgentView {
  /** The agent's name, unique in the cluster. */
  readonly name: string;
  /** The queue it serves. */
  readonly queue: string;
  /** How many tasks it may run at once. */
  readonly capacity: number;
  /** How many it runs now. */
  readonly running: number;
  /** Time since its lease was last renewed, in ms. */
  readonly leaseAgeMs: number;
  /** The execution ids of the tasks it runs. */
  readonly tasks: readonly string[];
}

/**
 * Where the inspector reads the agents of a cluster from. Any object with an `agents()` method fits;
 * `NatsClusterExecutor` from `@taskwarden/cluster-nats` is one, so
 * `startInspector(runtime, { agents: clusterExecutor })` shows its agents.
 *
 * @example
 * ```ts
 * const directory: AgentDirectory = {
 *   agents: () => [{ name: 'agent-1', queue: 'default', capacity: 4, running: 1, leaseAgeMs: 800, tasks: ['t-1'] }],
 * };
 * await startInspector(runtime, { agents: directory });
 * ```
 */
export interface AgentDirectory {
  /**
   * The agents now. Called at most once per snapshot (on `GET /api/snapshot` and on each periodic
   * snapshot of the event stream); a call that throws, rejects or takes longer than
   * `agentsTimeoutMs` shows an error in place of the agents and breaks nothing else.
   */
  agents(): Promise<readonly AgentView[]> | readonly AgentView[];
}
