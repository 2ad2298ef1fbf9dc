import type { KillFunction, TreeGroup } from './kill-tree.js';
import { killTree } from './kill-tree.js';
import type { ProcReader } from './proc-scan.js';
import type { ProcessTree } from './process-tree.js';
import { TREE_KILL_BOUND_MS } from './process-tree.js';

/**
 * A worker thread's process tree, found by the process groups its spawns lead and by the env
 * cookie they and their descendants carry (see `tree-cookie.ts`).
 * @internal
 */
export class CookieProcessTree implements ProcessTree {
  readonly #token: string;
  readonly #kill: KillFunction | undefined;
  readonly #proc: ProcReader | undefined;
  /** The groups whose leaders have not been reaped (so their ids cannot have been reused). */
  readonly #groups = new Set<number>();
  #killing: Promise<boolean> | undefined;
  #again = false;
  /** Set by the first kill: every later sweep shares its bound. */
  #deadline: number | undefined;

  /** `token`: the thread's cookie token (see `tree-cookie.ts`). */
  constructor(token: string, seams: { kill?: KillFunction; proc?: ProcReader } = {}) {
    this.#token = token;
    this.#kill = seams.kill;
    this.#proc = seams.proc;
  }

  track(pid: number): void {
    this.#groups.add(pid);
  }

  /**
   * Forgets the group: its id may be reused from now on. What is left in it still carries the
   * cookie, unless it cleared its environment too.
   */
  untrack(pid: number): void {
    this.#groups.delete(pid);
  }

  /**
   * A call while a kill runs makes it run once more afterwards: the thread may have spawned
   * meanwhile. All calls share the bound of the first: a later one makes one pass at least.
   */
  kill(growing?: () => boolean): Promise<boolean> {
    this.#deadline ??= performance.now() + TREE_KILL_BOUND_MS;
    if (this.#killing !== undefined) {
      this.#again = true;
      return this.#killing;
    }
    this.#killing = this.#run(growing).finally(() => {
      this.#killing = undefined;
    });
    return this.#killing;
  }

  async #run(growing: (() => boolean) | undefined): Promise<boolean> {
    let gone: boolean;
    do {
      this.#again = false;
      gone = await killTree({
        token: this.#token,
        groups: () => this.#trackedGroups(),
        boundMs: (this.#deadline ?? 0) - performance.now(),
        ...(growing ? { growing } : {}),
        ...(this.#kill ? { kill: this.#kill } : {}),
        ...(this.#proc ? { proc: this.#proc } : {}),
      });
    } while (this.#again);
    return gone;
  }

  *#trackedGroups(): Iterable<TreeGroup> {
    for (const pgid of this.#groups) yield { pgid, trusted: true };
  }
}
