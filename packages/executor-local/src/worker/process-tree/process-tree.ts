/**
 * What a worker thread's tasks spawned, as the host sees it: the processes a thread reports, and
 * the means to stop all of them with the thread.
 *
 * This is the seam for the process-tree machinery the process executor uses (cgroup v2 per child
 * with `cgroup.kill`, the env cookie scan, the process group): a thread's tree can be backed by it
 * without the pool noticing. Until then {@link CookieProcessTree} does the same with process groups
 * and the env cookie.
 * @internal
 * @module
 */

/** The processes one worker thread has spawned (and their descendants). */
export interface ProcessTree {
  /** A process the thread spawned; it leads its own process group. */
  track(pid: number): void;
  /** That process has exited and was reaped, so its pid (and group id) may be reused. */
  untrack(pid: number): void;
  /**
   * SIGKILLs every process of the tree, also those that left its process groups, and those
   * spawned while this runs. Resolves `true` once none is left alive, `false` when some still were
   * {@link TREE_KILL_BOUND_MS} after the first call (a later call still makes one pass). Never
   * rejects. While `until` is pending (the thread is still alive, so a process it was starting
   * may yet appear), finding none does not end the kill before the bound; once it settles, a last
   * pass follows at once. A call while a kill runs returns that kill.
   */
  kill(until?: Promise<unknown>): Promise<boolean>;
}

/** How long {@link ProcessTree.kill} keeps killing and looking before it gives up. */
export const TREE_KILL_BOUND_MS = 1_000;
