/**
 * Reads `/proc` for the processes of a tree: those whose environment carries its cookie (see
 * `tree-cookie.ts`), and the groups that still have a live (non-zombie) member. Linux only; where
 * there is no `/proc`, nothing is found (the process groups are still killed).
 * @internal
 * @module
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { environHasToken } from './tree-cookie.js';

/** How `/proc` is read; replaceable in tests. */
export interface ProcReader {
  /** The entries of /proc. */
  list(): Promise<string[]>;
  /** /proc/<pid>/stat. */
  stat(pid: number): Promise<string>;
  /** /proc/<pid>/environ. */
  environ(pid: number): Promise<Buffer>;
}

const procfs: ProcReader = {
  list: () => readdir('/proc'),
  stat: (pid) => readFile(`/proc/${pid}/stat`, 'latin1'),
  environ: (pid) => readFile(`/proc/${pid}/environ`),
};

/** What one pass over `/proc` found. */
export interface ProcSnapshot {
  /** Live processes whose environment carries the token, with their group ids. */
  readonly carriers: ReadonlyArray<{ readonly pid: number; readonly pgid: number }>;
  /** Every group with a live member. */
  readonly liveGroups: ReadonlySet<number>;
}

/** Files read at once: a quick scan that leaves file descriptors to others. */
const CONCURRENCY = 8;

/**
 * One pass over `/proc`. A process that vanishes while it is read counts as gone; one whose files
 * cannot be read (another user's) is not ours: the cookie is only set on what our threads spawn.
 * Processes started before `bornAfterTicks` (clock ticks after boot) cannot carry the token: their
 * environment is not read.
 */
export async function scanProc(
  token: string,
  reader: ProcReader = procfs,
  bornAfterTicks = 0,
): Promise<ProcSnapshot> {
  let entries: string[];
  try {
    entries = await reader.list();
  } catch {
    return { carriers: [], liveGroups: new Set() };
  }
  const pids = entries.filter((entry) => entry.charCodeAt(0) >= 48 && entry.charCodeAt(0) <= 57).map(Number);
  const carriers: { pid: number; pgid: number }[] = [];
  const liveGroups = new Set<number>();
  let next = 0;
  const work = async (): Promise<void> => {
    while (next < pids.length) {
      const pid = pids[next++] as number;
      if (pid === process.pid) continue;
      let stat: string;
      try {
        stat = await reader.stat(pid);
      } catch {
        continue;
      }
      // "pid (comm) state ppid pgrp ... starttime ..."; comm may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 20);
      if (fields[0] === 'Z' || fields[0] === 'X') continue;
      const pgid = Number(fields[2]);
      liveGroups.add(pgid);
      if (Number(fields[19]) < bornAfterTicks) continue;
      let environ: Buffer;
      try {
        environ = await reader.environ(pid);
      } catch {
        continue;
      }
      if (environHasToken(environ, token)) carriers.push({ pid, pgid });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, pids.length) }, work));
  return { carriers, liveGroups };
}

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ: 100 on every Linux port Node runs on). */
const USER_HZ = 100;

/**
 * The earliest start time (clock ticks after boot) of a process started `ageMs` ago or later, less
 * a second of slack; 0 when `/proc/uptime` cannot be read (then every process is read).
 */
export function bornAfterTicks(ageMs: number): number {
  try {
    const uptime = Number.parseFloat(readFileSync('/proc/uptime', 'latin1'));
    return Number.isFinite(uptime) ? Math.max(0, Math.floor((uptime - ageMs / 1000 - 1) * USER_HZ)) : 0;
  } catch {
    return 0;
  }
}
