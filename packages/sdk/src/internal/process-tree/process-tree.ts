/**
 * One process tree as its creator sees it: the processes a root process started, found by the
 * strongest means the tree-kill mode offers, beyond the root's own process group.
 * @internal
 * @module
 */
import { readFileSync } from 'node:fs';
import { cgroupMembers, isCgroupPopulated, killCgroup, placeInCgroup, removeCgroup } from './cgroup.js';
import type { ProcFs, TreeIdentity } from './proc-table.js';
import { bornAfterTicks, errnoOf, parseStat, scanTree } from './proc-table.js';
import type { TreeKillMode } from './tree-kill-mode.js';

/** Sends a signal to one process, like `process.kill`; a seam for tests. @internal */
export type SignalFunction = (pid: number, signal: NodeJS.Signals) => unknown;

/** What {@link ProcessTree} needs to know about a tree. @internal */
export interface ProcessTreeOptions {
  readonly mode: TreeKillMode;
  /** The root's pid; it leads the tree's process group and session (pgid = sid = pid). */
  readonly root?: number;
  /**
   * Further roots, read at every scan, for a tree that has many (the processes one worker thread
   * spawned, each leading a process group and session of its own): in `'cookie'` mode their
   * sessions are members too. The caller signals their groups, as it does the root's, and lists
   * only roots it has not reaped (their ids cannot have been reused).
   */
  readonly roots?: () => Iterable<number>;
  /** The cookie the root was started with (`'cookie'` and `'cgroup'` modes). */
  readonly cookie?: string;
  /** The tree's cgroup directory (`'cgroup'` mode). */
  readonly cgroup?: string;
  /** `performance.now()` when the root was started: older processes are not read for the cookie. */
  readonly startedAt?: number;
  /** @default process.kill */
  readonly kill?: SignalFunction;
  /** @default the real /proc */
  readonly proc?: ProcFs;
}

const defaultKill: SignalFunction = (pid, signal) => process.kill(pid, signal);

/** The process group of `pid`, or undefined when it cannot be read (it then counts as outside). */
function groupOf(pid: number): number | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1')).pgrp;
  } catch {
    return undefined;
  }
}

/**
 * The members of a process tree that its root's process group may not hold (the caller signals and
 * watches that group itself): in `'cgroup'` mode every process of the tree's cgroup, in `'cookie'`
 * mode every live process of the root's session (or of another root's: see
 * {@link ProcessTreeOptions.roots}) or carrying the cookie, in `'process-group'` mode none. Every
 * method is best effort and never throws.
 * @internal
 */
export class ProcessTree {
  readonly mode: TreeKillMode;
  readonly #options: ProcessTreeOptions;
  readonly #kill: SignalFunction;

  constructor(options: ProcessTreeOptions) {
    this.mode = options.mode;
    this.#options = options;
    this.#kill = options.kill ?? defaultKill;
  }

  /** The tree's cgroup (`'cgroup'` mode). */
  get cgroup(): string | undefined {
    return this.mode === 'cgroup' ? this.#options.cgroup : undefined;
  }

  /**
   * Moves the root into the tree's cgroup; resolves at once in other modes. Rejects with what the
   * kernel says (ESRCH: the root is gone).
   */
  place(pid: number): Promise<void> {
    const cgroup = this.cgroup;
    return cgroup === undefined ? Promise.resolve() : placeInCgroup(cgroup, pid);
  }

  /**
   * Sends `signal` to every member beyond the root's group: SIGKILL to a cgroup goes through
   * `cgroup.kill` (atomic: nothing forks its way out); anything else to each member found.
   */
  async signal(signal: NodeJS.Signals): Promise<void> {
    const cgroup = this.cgroup;
    if (cgroup !== undefined && signal === 'SIGKILL') {
      try {
        killCgroup(cgroup);
        return;
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') return; // removed: nothing left in it
      }
    }
    this.#signalAll(await this.#members(), signal);
  }

  /**
   * SIGKILLs every member beyond the root's group and tells whether one may still be alive: the
   * cgroup is still populated (its processes are dying), or the scan found members (now killed) or
   * could not read every process. Call it until it says no.
   */
  async sweep(): Promise<boolean> {
    const cgroup = this.cgroup;
    if (cgroup !== undefined) {
      // Usually nothing is left by the time the root is reaped: then there is nothing to kill.
      if (!isCgroupPopulated(cgroup)) return false;
      await this.signal('SIGKILL');
      return true;
    }
    const identity = this.#identity();
    if (identity === undefined) return false;
    const scan = await scanTree(identity, { proc: this.#options.proc });
    this.#signalAll(scan.pids, 'SIGKILL');
    return scan.pids.length > 0 || scan.uncertain;
  }

  /**
   * Whether a live member may be left: the cgroup is populated, or a scan finds a session member or
   * cookie bearer (or cannot read every process). Zombies do not count. Always false in
   * `'process-group'` mode.
   */
  async hasLiveMember(): Promise<boolean> {
    const cgroup = this.cgroup;
    if (cgroup !== undefined) return isCgroupPopulated(cgroup);
    const identity = this.#identity();
    if (identity === undefined) return false;
    const scan = await scanTree(identity, { proc: this.#options.proc, firstOnly: true });
    return scan.pids.length > 0 || scan.uncertain;
  }

  /** Removes the tree's cgroup; true when there is none (left). */
  remove(): boolean {
    const cgroup = this.#options.cgroup;
    return cgroup === undefined || removeCgroup(cgroup);
  }

  #signalAll(pids: readonly number[], signal: NodeJS.Signals): void {
    for (const pid of pids) {
      try {
        this.#kill(pid, signal);
      } catch {
        // Gone meanwhile (ESRCH), or not ours to signal (EPERM): nothing more to do for it.
      }
    }
  }

  /** The members outside the root's process group (that group is the caller's to signal). */
  async #members(): Promise<number[]> {
    const { root } = this.#options;
    const cgroup = this.cgroup;
    if (cgroup !== undefined)
      return cgroupMembers(cgroup).filter((pid) => root === undefined || groupOf(pid) !== root);
    const identity = this.#identity();
    if (identity === undefined) return [];
    return (await scanTree({ ...identity, outsideGroup: root }, { proc: this.#options.proc })).pids;
  }

  #identity(): TreeIdentity | undefined {
    const { mode, root, roots, cookie, startedAt } = this.#options;
    if (mode !== 'cookie') return undefined;
    return {
      sid: root,
      pgid: root,
      ...(roots === undefined ? {} : { sids: new Set(roots()) }),
      cookie,
      bornAfterTicks: startedAt === undefined ? undefined : bornAfterTicks(performance.now() - startedAt),
    };
  }
}
