/**
 * The last act of a tree's root whose creator is gone: kill the whole tree, itself included.
 * @internal
 * @module
 */
import { dirname } from 'node:path';
import { killCgroup, startCgroupRemover } from './cgroup.js';
import { scanTreeSync } from './proc-table.js';
import type { TreeKillMode } from './tree-kill-mode.js';

/** What the root knows about its own tree. @internal */
export interface OwnTree {
  readonly mode: TreeKillMode;
  /** The cookie the root was started with (`'cookie'` and `'cgroup'` modes). */
  readonly cookie?: string;
  /** The tree's cgroup (`'cgroup'` mode); its parent is where the creator lived. */
  readonly cgroup?: string;
}

/** Scan passes at most: each kills what the last one found; a tree that forks faster is rare. */
const SCAN_PASSES = 4;

/**
 * Kills every process of the calling process's tree, the caller last; synchronous, for a thread
 * whose process is about to die (any thread of the root: the main thread or a watchdog thread).
 * Never returns normally unless every way of killing failed (the caller then kills itself).
 *
 * - `'cgroup'`: a remover process is started outside the cgroup (it deletes the cgroup once it is
 *   empty), then `cgroup.kill` ends every process of the tree and the caller in one step, so
 *   nothing the task forks in the meantime can escape. Goes on as in `'cookie'` mode when the
 *   cgroup cannot be killed or the caller was not in it.
 * - `'cookie'`: scans /proc for the caller's session members and cookie bearers and SIGKILLs them
 *   (up to four passes, until one finds nothing), then SIGKILLs the caller's process group.
 * - `'process-group'`: SIGKILLs the caller's process group.
 * @internal
 */
export function killOwnTree(tree: OwnTree): void {
  const self = process.pid;
  if (tree.mode === 'cgroup' && tree.cgroup !== undefined) {
    startCgroupRemover(tree.cgroup, dirname(tree.cgroup));
    try {
      // A caller inside the cgroup never returns from this write: the SIGKILL is delivered to it on
      // the way back from the kernel. One that is still here was never moved into its cgroup (the
      // host fell back to the cookie for it), so the cookie scan below is what finds its tree.
      killCgroup(tree.cgroup);
    } catch {
      // Not killable (removed, EACCES): find the tree by the cookie instead.
    }
  }
  if (tree.mode !== 'process-group') {
    const identity = { sid: self, pgid: self, cookie: tree.cookie, exclude: self };
    for (let pass = 0; pass < SCAN_PASSES; pass++) {
      const members = scanTreeSync(identity);
      if (members.length === 0) break;
      for (const pid of members) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
    }
  }
  try {
    process.kill(-self, 'SIGKILL');
  } catch {
    // The caller leads no process group (started by hand?): the caller kills itself.
  }
}
