/**
 * Stopping a child's whole process tree and telling when it is gone: everything the executor does
 * to kill "the child and all its descendants" lives here.
 * @internal
 * @module
 */
import type { ProcessTree } from '@taskwarden/sdk/internal';
import type { KillFunction } from './process-group.js';
import { groupExists, hasLiveMember, signalGroup } from './process-group.js';

const POLL_MAX_MS = 100;
/** After this long, a group that still exists is checked for zombies-only membership. */
const ZOMBIE_SCAN_AFTER_MS = 10;

/**
 * The tree of one child: the process group it leads (pgid = its pid) plus, by the executor's
 * tree-kill mode, the members beyond that group ({@link ProcessTree}: its cgroup, or its session
 * and cookie bearers).
 *
 * - {@link terminate}: SIGTERM to the whole tree now, SIGKILL to the whole tree `graceMs` later
 *   (always: a JS handler can swallow SIGTERM). The grace holds for every member, also when the
 *   child dies of the SIGTERM at once.
 * - {@link killNow}: SIGKILL to the group now, no grace for anyone from then on.
 * - {@link reap}, once the child has exited: whatever is left is SIGKILLed (unless a grace period
 *   runs: then at its end), and the promise resolves when no live process of the group and of the
 *   rest of the tree is left, and the tree's cgroup is removed.
 *
 * Once the group has been seen empty, `-pgid` is never signalled again: the id may already belong
 * to a new group.
 * @internal
 */
export class TreeReaper {
  readonly #pgid: number;
  readonly #kill: KillFunction;
  #tree: ProcessTree;
  #stopping = false;
  /** The group was seen empty: `-pgid` may name somebody else's group from now on. */
  #groupGone = false;
  #gone = false;
  /** Pending while a hard stop's grace period runs: SIGKILL to the tree when it fires. */
  #killTimer: NodeJS.Timeout | undefined;

  constructor(pgid: number, kill: KillFunction, tree: ProcessTree) {
    this.#pgid = pgid;
    this.#kill = kill;
    this.#tree = tree;
  }

  /** The members beyond the group; replaced when the child could not be given its cgroup. */
  get tree(): ProcessTree {
    return this.#tree;
  }

  set tree(tree: ProcessTree) {
    this.#tree = tree;
  }

  /** True once a stop was requested (terminate or killNow). */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** True once the whole tree is gone. */
  get gone(): boolean {
    return this.#gone;
  }

  /**
   * Hard stop (see the class). Idempotent. Throws when the SIGTERM cannot be sent to the group for
   * any reason other than the group being gone already, or when the escalation timer cannot be
   * armed. `exited`: the child has exited already; its leftovers are SIGKILLed at once.
   */
  terminate(graceMs: number, exited: boolean): void {
    if (this.#stopping || this.#groupGone || this.#gone) return;
    if (exited) {
      this.#stopping = true;
      this.#sigkillGroup();
      return;
    }
    signalGroup(this.#kill, this.#pgid, 'SIGTERM');
    void this.#tree.signal('SIGTERM');
    this.#killTimer = setTimeout(() => {
      this.#killTimer = undefined;
      this.#sigkillGroup();
      void this.#tree.signal('SIGKILL');
    }, graceMs);
    this.#stopping = true;
  }

  /** SIGKILL to the group now (retiring an idle or finished process); no grace left. Never throws. */
  killNow(): void {
    this.#stopping = true;
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#killTimer = undefined;
    this.#sigkillGroup();
  }

  /**
   * The child has exited: kills what it left (at once, or at the end of a running grace period)
   * and resolves once nothing of its tree is left alive and its cgroup is removed.
   */
  async reap(): Promise<void> {
    // What the child left in its group lives on without it. During a hard stop it keeps the rest of
    // the grace period it was promised by the SIGTERM (the kill timer ends it); otherwise (a crash,
    // an exit, a stop by SIGKILL) it is an orphan to kill at once.
    if (this.#killTimer === undefined) this.#sigkillGroup();
    await this.#awaitGroupGone();
    await this.#awaitTreeGone();
    this.#gone = true;
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#killTimer = undefined;
    this.#tree.remove();
  }

  /** The whole tree is as gone as it will get (a spawn that failed): only the cgroup to remove. */
  abandon(): void {
    this.#gone = true;
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#killTimer = undefined;
    this.#tree.remove();
  }

  #sigkillGroup(): void {
    if (this.#gone || this.#groupGone) return;
    try {
      signalGroup(this.#kill, this.#pgid, 'SIGKILL');
    } catch {
      // The kill seam failing here leaves polling to notice whatever happens next.
    }
  }

  async #awaitGroupGone(): Promise<void> {
    const since = performance.now();
    let delay = 1;
    for (;;) {
      let exists: boolean;
      try {
        exists = groupExists(this.#kill, this.#pgid);
      } catch {
        exists = true; // a failing kill seam: keep polling
      }
      if (!exists) break;
      // Only zombies left? Worth a /proc scan once a normal reaper would have been done.
      if (performance.now() - since >= ZOMBIE_SCAN_AFTER_MS && !(await hasLiveMember(this.#pgid))) {
        // A member forked while the scan ran would have been missed: one last SIGKILL covers it.
        this.#sigkillGroup();
        break;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, POLL_MAX_MS);
      // A member may have been forked after the last signal; not while a hard stop's grace runs.
      if (this.#killTimer === undefined) this.#sigkillGroup();
    }
    // From here on `-pgid` may name somebody else's group.
    this.#groupGone = true;
  }

  /** The members beyond the group: SIGKILLed until none is left (after the grace, if one runs). */
  async #awaitTreeGone(): Promise<void> {
    let delay = 1;
    for (;;) {
      // During a grace period only watch; after it, kill whatever is found.
      const left =
        this.#killTimer === undefined ? await this.#tree.sweep() : await this.#tree.hasLiveMember();
      if (!left) return;
      await sleep(delay);
      delay = Math.min(delay * 2, POLL_MAX_MS);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
