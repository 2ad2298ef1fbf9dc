/**
 * Kills a process tree found by its process groups and its env cookie: SIGKILL to every group,
 * then to every process that carries the cookie (and the group it leads), again and again until a
 * scan finds none alive, or the bound passes. Shared by the host (a thread is stopped) and the
 * orphan reaper (the host died).
 * @internal
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { ProcReader, ProcSnapshot } from './proc-scan.js';
import { scanProc } from './proc-scan.js';

/** The signature of `process.kill`, injectable for tests. */
export type KillFunction = (pid: number, signal?: NodeJS.Signals | number) => boolean;

/** A process group of the tree. */
export interface TreeGroup {
  readonly pgid: number;
  /**
   * Its leader has not been reaped, so the id cannot have been reused: the group is signalled
   * blindly. Otherwise only while a process carrying the cookie is in it.
   */
  readonly trusted: boolean;
}

/** What {@link killTree} works on. */
export interface KillTreeOptions {
  /** The cookie token the tree's processes carry (see `tree-cookie.ts`). */
  readonly token: string;
  /** The tree's process groups; read again every round (the tree may grow meanwhile). */
  readonly groups: () => Iterable<TreeGroup>;
  /** Give up after this long. */
  readonly boundMs: number;
  /**
   * While pending, the tree may still grow (its thread is alive): a round that finds nothing alive
   * does not end the kill; it settles, one more round follows at once.
   */
  readonly until?: Promise<unknown>;
  /** Processes started before this (clock ticks after boot) are not read for the token. @default 0 */
  readonly bornAfterTicks?: number;
  /** Between the first rounds; it doubles up to 100 ms while nothing is found. @default 10 */
  readonly pauseMs?: number;
  readonly kill?: KillFunction;
  readonly proc?: ProcReader;
}

const MAX_PAUSE_MS = 100;

/** Never signalled: nothing, init, the host's own group. */
const forbidden = new Set([0, 1, -1, process.pid]);

function signal(kill: KillFunction, target: number): void {
  try {
    kill(target, 'SIGKILL');
  } catch {
    // Gone already (ESRCH), or not ours to signal (EPERM): nothing more to do about it.
  }
}

/** Resolves true once nothing of the tree is alive; false when something still was at the bound. */
export async function killTree(options: KillTreeOptions): Promise<boolean> {
  const kill = options.kill ?? process.kill.bind(process);
  const deadline = performance.now() + options.boundMs;
  const ownGroup = await hostGroup(options.proc);
  const allowed = (id: number): boolean => id > 1 && !forbidden.has(id) && id !== ownGroup;
  let snapshot: ProcSnapshot | undefined;
  let pause = options.pauseMs ?? 10;
  let growing = options.until !== undefined;
  const settled = options.until?.then(
    () => {
      growing = false;
    },
    () => {
      growing = false;
    },
  );
  for (;;) {
    const groups = [...options.groups()];
    // Trusted groups first, before reading /proc: most trees are gone after this.
    for (const group of groups) if (group.trusted && allowed(group.pgid)) signal(kill, -group.pgid);
    snapshot = await scanProc(options.token, options.proc, options.bornAfterTicks);
    const carrierGroups = new Set<number>();
    for (const { pid, pgid } of snapshot.carriers) {
      carrierGroups.add(pgid);
      if (allowed(pid)) signal(kill, pid);
      // A group a process of the tree leads (it called setsid): everything in it is the tree's.
      if (pgid === pid && allowed(pgid)) signal(kill, -pgid);
    }
    for (const group of groups) {
      if (!group.trusted && carrierGroups.has(group.pgid) && allowed(group.pgid)) signal(kill, -group.pgid);
    }
    const alive =
      snapshot.carriers.length > 0 ||
      groups.some((group) => group.trusted && allowed(group.pgid) && snapshot?.liveGroups.has(group.pgid));
    if (!alive && !growing) return true;
    if (performance.now() >= deadline) return !alive;
    // Waiting for a process that may never come: look less often, but at once when the tree stops growing.
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

let ownGroupId: number | undefined;

/** The host's own process group, never to be signalled (read once). */
async function hostGroup(proc?: ProcReader): Promise<number | undefined> {
  if (ownGroupId !== undefined) return ownGroupId;
  try {
    const stat = await (proc ? proc.stat(process.pid) : readFile('/proc/self/stat', 'latin1'));
    ownGroupId = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ', 4)[2]);
  } catch {
    // No /proc: the groups the tree uses are led by its own processes, never the host's.
  }
  return ownGroupId;
}
