/**
 * What a worker thread's tasks spawned, as the host sees it: the processes a thread reports, and
 * the means to stop all of them with the thread. {@link ThreadTree} implements it on the process-tree
 * machinery of `@taskwarden/sdk/internal`, which the process executor uses too.
 * @internal
 * @module
 */

/** The processes one worker thread has spawned (and their descendants). */
export interface SpawnedProcessTree {
  /** A process the thread spawned; it leads its own process group and session. */
  track(pid: number): void;
  /** That process has exited and was reaped, so its pid (and group and session id) may be reused. */
  untrack(pid: number): void;
  /**
   * SIGKILLs every process of the tree, as far as the tree-kill mode reaches (also those that left
   * its process groups and sessions, and those spawned while this runs). Resolves `true` once none
   * is left alive (and, in `'cgroup'` mode, the thread's cgroup is removed), `false` when some still
   * were {@link TREE_KILL_BOUND_MS} after the first call (a later call still makes one pass). Never
   * rejects. While `until` is pending (the thread is still alive, so a process it was starting may
   * yet appear), finding none does not end the kill before the bound; once it settles, a last pass
   * follows at once. A call while a kill runs returns that kill.
   */
  kill(until?: Promise<unknown>): Promise<boolean>;
}

/** How long {@link SpawnedProcessTree.kill} keeps killing and looking before it gives up. */
export const TREE_KILL_BOUND_MS = 1_000;
