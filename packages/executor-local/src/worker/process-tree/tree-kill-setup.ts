/**
 * A worker executor's tree-kill mode, chosen once when it is constructed, and what each of its
 * threads is given to track the processes its tasks spawn.
 * @internal
 * @module
 */
import { join } from 'node:path';
import type { TreeKillMode } from '@taskwarden/sdk/internal';
import { CGROUP_PREFIX, newTreeCookie, resolveTreeKill } from '@taskwarden/sdk/internal';

/**
 * How the processes worker tasks spawn, and their descendants, are found and killed: `'cgroup'` (a
 * cgroup v2 per thread), `'cookie'` (each spawn's process group and session, and the environment
 * cookie) or `'process-group'` (each spawn's group).
 */
export type { TreeKillMode };

/** The tree-kill modes a worker executor accepts, `'auto'` for the strongest available. */
export type TreeKillOption = 'auto' | TreeKillMode;

/** How one thread's spawns are tracked (see `spawn-tracking.ts` and `thread-tree.ts`). */
export interface ThreadTreeSpec {
  readonly mode: TreeKillMode;
  /** The thread's cookie: every process it spawns carries it in `TASKWARDEN_TREE`. */
  readonly cookie: string;
  /**
   * The thread's cgroup (`'cgroup'` mode): created by the thread itself at its first spawn, so a
   * thread that spawns nothing costs no cgroup; removed by the host once the thread has ended.
   */
  readonly cgroup: string | undefined;
}

/**
 * The mode (the strongest this machine allows, or the one asked for), where the threads' cgroups go,
 * and why stronger modes are not used.
 * @internal
 */
export class TreeKillSetup {
  readonly mode: TreeKillMode;
  /** Where the threads' cgroups go (the host's own cgroup), in `'cgroup'` mode. */
  readonly cgroupDir: string | undefined;
  /** Why each mode stronger than `mode` is not used. */
  readonly unavailable: Readonly<Partial<Record<TreeKillMode, string>>>;
  /** Names this executor's cgroups apart from other executors' of the same host. */
  readonly #prefix = `${CGROUP_PREFIX}${process.pid}-worker-${Math.random().toString(36).slice(2, 8)}-`;
  #next = 0;

  /** @throws RangeError naming `option` when the requested mode is not available here. */
  constructor(requested: TreeKillOption, option: string) {
    const resolved = resolveTreeKill(requested, option);
    this.mode = resolved.mode;
    this.cgroupDir = resolved.cgroupDir;
    this.unavailable = resolved.unavailable;
  }

  /** What the next thread is told. */
  forThread(): ThreadTreeSpec {
    const cgroup =
      this.cgroupDir === undefined ? undefined : join(this.cgroupDir, `${this.#prefix}${++this.#next}`);
    return { mode: this.mode, cookie: newTreeCookie(), cgroup };
  }
}
