/**
 * What one worker thread's tasks spawned, on the host, found and killed by the tree-kill machinery
 * of `@taskwarden/sdk/internal` (the process executor's): every spawn leads a process group and
 * session of its own (its pid), and beyond those groups the tree is
 *
 * - `'cgroup'`: the thread's cgroup, which every spawn joins before it runs anything (see
 *   `spawn-placement.ts`); killed with `cgroup.kill`, then removed;
 * - `'cookie'`: every live process of those sessions, and every process whose environment carries
 *   the thread's cookie (a scan of /proc);
 * - `'process-group'`: nothing more.
 *
 * In `'cgroup'` mode, a spawn that could not join the cgroup before it ran (see `UNPLACED`) makes
 * the tree add the `'cookie'` search, so such a process is reached as in `'cookie'` mode; and once
 * the thread is gone, one last search by the cookie finds what moved to a cgroup of its own (the
 * children of a `ProcessExecutor` a task created).
 * @internal
 * @module
 */
import { readFileSync } from 'node:fs';
import type { ProcFs, SignalFunction, TreeKillMode } from '@taskwarden/sdk/internal';
import { bornAfterTicks, ProcessTree, parseStat, procFs, scanTree } from '@taskwarden/sdk/internal';
import type { SpawnedProcessTree } from './spawned-process-tree.js';
import { TREE_KILL_BOUND_MS } from './spawned-process-tree.js';

/** What a {@link ThreadTree} is built from. */
export interface ThreadTreeOptions {
  readonly mode: TreeKillMode;
  /** The thread's cookie. */
  readonly cookie: string;
  /** The thread's cgroup (`'cgroup'` mode); it may not exist yet, or never. */
  readonly cgroup: string | undefined;
  /** True once the thread has started a process outside its cgroup (`'cgroup'` mode). */
  readonly unplaced?: () => boolean;
  /** True while the thread is blocked in a `*Sync` spawn, whose pid it cannot report. */
  readonly waitsForSyncSpawn?: () => boolean;
  /** @default process.kill */
  readonly kill?: SignalFunction;
  /** @default the real /proc */
  readonly proc?: ProcFs;
}

const FIRST_PAUSE_MS = 10;
const MAX_PAUSE_MS = 100;

const defaultKill: SignalFunction = (pid, signal) => process.kill(pid, signal);

/** The host's own process group and session: never a spawn's (read once; Linux only). */
let hostIds: { readonly pgrp: number; readonly session: number } | null | undefined;

function hostGroupAndSession(): { readonly pgrp: number; readonly session: number } | null {
  if (hostIds !== undefined) return hostIds;
  try {
    const stat = parseStat(readFileSync('/proc/self/stat', 'latin1'));
    hostIds = { pgrp: stat.pgrp, session: stat.session };
  } catch {
    hostIds = null;
  }
  return hostIds;
}

/**
 * Whether `pid` may be a spawn's: a real process id that is neither init, the host, nor the group
 * or session the host is in. The pids come from the thread, where task code could post anything;
 * whatever it says, the host never kills itself or its own group or session.
 */
function isSpawnPid(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 1 || pid === process.pid) return false;
  const host = hostGroupAndSession();
  return host === null || (pid !== host.pgrp && pid !== host.session);
}

/** A worker thread's spawned processes (see the module). @internal */
export class ThreadTree implements SpawnedProcessTree {
  readonly mode: TreeKillMode;
  /** The spawns not reaped yet: their ids cannot have been reused. */
  readonly #roots = new Set<number>();
  /** The `*Sync` children the thread waits for, as last found (see `#findSyncSpawns`). */
  #syncRoots: readonly number[] = [];
  /** The members beyond the roots' groups, by the mode. */
  readonly #members: ProcessTree;
  /** In `'cgroup'` mode, the `'cookie'` search for processes that could not join the cgroup. */
  #strays: ProcessTree | undefined;
  readonly #options: ThreadTreeOptions;
  readonly #kill: SignalFunction;
  /** When the thread started: older processes cannot be its spawns. */
  readonly #startedAt = performance.now();
  #killing: Promise<boolean> | undefined;
  /** Set by the first kill: every later pass shares its bound. */
  #deadline: number | undefined;

  constructor(options: ThreadTreeOptions) {
    this.mode = options.mode;
    this.#options = options;
    this.#kill = options.kill ?? defaultKill;
    this.#members = this.#tree(options.mode);
  }

  track(pid: number): void {
    if (isSpawnPid(pid)) this.#roots.add(pid);
  }

  /**
   * Forgets the spawn: its id may be reused from now on. What it left behind is still reached by
   * the cgroup, or by the cookie unless it cleared its environment.
   */
  untrack(pid: number): void {
    this.#roots.delete(pid);
  }

  kill(until?: Promise<unknown>): Promise<boolean> {
    if (this.#killing !== undefined) return this.#killing;
    this.#deadline ??= performance.now() + TREE_KILL_BOUND_MS;
    this.#killing = this.#killUntilGone(this.#deadline, until).finally(() => {
      this.#killing = undefined;
    });
    return this.#killing;
  }

  async #killUntilGone(deadline: number, until: Promise<unknown> | undefined): Promise<boolean> {
    let growing = until !== undefined;
    const settled = until?.then(
      () => {
        growing = false;
      },
      () => {
        growing = false;
      },
    );
    let pause = FIRST_PAUSE_MS;
    for (;;) {
      // Once the thread is gone (no `until`, or it settled) nothing can join the tree any more.
      const alive = await this.#pass(!growing);
      if (!alive && !growing) return true;
      if (performance.now() >= deadline) return !alive;
      // Waiting for a process that may never come: look less often, but at once when the thread is gone.
      if (!alive) pause = Math.min(pause * 2, MAX_PAUSE_MS);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise((resolve) => {
          timer = setTimeout(resolve, pause);
        }),
        ...(growing && settled ? [settled] : []),
      ]);
      clearTimeout(timer);
    }
  }

  /**
   * SIGKILLs what can be found now; true when something may still be alive. `last`: the thread is
   * gone; in `'cgroup'` mode its cookie is searched too, for what left the cgroup for one of its own
   * (the children of a `ProcessExecutor` a task created), as it is every time for what never joined.
   */
  async #pass(last: boolean): Promise<boolean> {
    const unplaced = this.#options.unplaced?.() === true;
    // A `*Sync` child in the cgroup needs no finding; outside of it, its group and session must be.
    const syncOutside = this.mode !== 'cgroup' || unplaced;
    this.#syncRoots =
      syncOutside && this.#options.waitsForSyncSpawn?.() === true ? await this.#findSyncSpawns() : [];
    // The spawns' groups first: mostly nothing is left after this. It is also what reaches a spawn
    // that has not joined its cgroup yet (between its start and its move it forks nothing).
    for (const root of this.#allRoots()) {
      try {
        this.#kill(-root, 'SIGKILL');
      } catch {
        // The group is gone (ESRCH): nothing left in it.
      }
    }
    let alive = await this.#members.sweep();
    if (unplaced || (last && this.mode === 'cgroup')) {
      this.#strays ??= this.#tree('cookie');
      alive = (await this.#strays.sweep()) || alive;
    }
    if (this.mode === 'process-group' && !alive) alive = await this.#groupsLive();
    // Removed as soon as it is empty: a spawn that has not joined it yet then cannot, and exits
    // without running its command; one that joined meanwhile keeps it (EBUSY) for the next pass.
    if (!alive && this.#members.cgroup !== undefined) alive = !this.#members.remove();
    return alive;
  }

  /** The reported spawns and the `*Sync` children found. */
  #allRoots(): ReadonlySet<number> {
    if (this.#syncRoots.length === 0) return this.#roots;
    const roots = new Set(this.#roots);
    for (const pid of this.#syncRoots) if (isSpawnPid(pid)) roots.add(pid);
    return roots;
  }

  /**
   * The `*Sync` children the thread waits for: the host's own children that carry the thread's
   * cookie and lead their session (every spawn does). Children not reaped: their ids are theirs.
   */
  async #findSyncSpawns(): Promise<number[]> {
    if (process.platform !== 'linux' && this.#options.proc === undefined) return [];
    const proc = this.#options.proc ?? procFs;
    const born = bornAfterTicks(performance.now() - this.#startedAt);
    const carriers = await scanTree({ cookie: this.#options.cookie, bornAfterTicks: born }, { proc });
    const children: number[] = [];
    for (const pid of carriers.pids) {
      try {
        const stat = parseStat(await proc.readStat(String(pid)));
        if (stat.ppid === process.pid && stat.session === pid) children.push(pid);
      } catch {
        // Gone meanwhile.
      }
    }
    return children;
  }

  /** Whether a live (not zombie) process is left in the spawns' groups (`'process-group'` mode). */
  async #groupsLive(): Promise<boolean> {
    const roots = this.#allRoots();
    if (roots.size === 0) return false;
    // Without /proc there is no telling: the SIGKILL went out, which is all that can be done.
    if (process.platform !== 'linux' && this.#options.proc === undefined) return false;
    const scan = await scanTree({ pgids: roots }, { proc: this.#options.proc, firstOnly: true });
    return scan.pids.length > 0 || scan.uncertain;
  }

  #tree(mode: TreeKillMode): ProcessTree {
    const { cookie, cgroup, proc } = this.#options;
    return new ProcessTree({
      mode,
      cookie,
      cgroup: mode === 'cgroup' ? cgroup : undefined,
      roots: () => this.#allRoots(),
      startedAt: this.#startedAt,
      kill: this.#kill,
      proc,
    });
  }
}
