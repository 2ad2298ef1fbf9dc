import type { KillFunction, TreeGroup } from './kill-tree.js';
import { killTree } from './kill-tree.js';
import type { ProcReader } from './proc-scan.js';
import { bornAfterTicks } from './proc-scan.js';
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
  /** When the thread started: older processes cannot be its spawns. */
  readonly #startedAt = performance.now();
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

  kill(until?: Promise<unknown>): Promise<boolean> {
    if (this.#killing !== undefined) return this.#killing;
    this.#deadline ??= performance.now() + TREE_KILL_BOUND_MS;
    this.#killing = killTree({
      token: this.#token,
      groups: () => this.#trackedGroups(),
      boundMs: this.#deadline - performance.now(),
      bornAfterTicks: bornAfterTicks(performance.now() - this.#startedAt),
      ...(until ? { until } : {}),
      ...(this.#kill ? { kill: this.#kill } : {}),
      ...(this.#proc ? { proc: this.#proc } : {}),
    }).finally(() => {
      this.#killing = undefined;
    });
    return this.#killing;
  }

  *#trackedGroups(): Iterable<TreeGroup> {
    for (const pgid of this.#groups) yield { pgid, trusted: true };
  }
}
