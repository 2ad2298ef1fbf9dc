/**
 * The process table as Linux shows it in `/proc`: who is alive, in which process group and session,
 * and which environment a process was started with. The tree-kill machinery finds the members of a
 * process tree here when it cannot ask a cgroup.
 * @internal
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { environHasCookie } from './tree-cookie.js';

/** How the asynchronous scans read /proc; replaceable in tests. @internal */
export interface ProcFs {
  /** The entries of /proc. */
  list(): Promise<string[]>;
  /** The contents of /proc/<pid>/stat. */
  readStat(pid: string): Promise<string>;
  /** The contents of /proc/<pid>/environ; only needed to match an environment cookie. */
  readEnviron?(pid: string): Promise<Buffer>;
}

/** The synchronous twin of {@link ProcFs}, for a process that is about to die. @internal */
export interface ProcFsSync {
  list(): string[];
  readStat(pid: string): string;
  readEnviron(pid: string): Buffer;
}

/** The real /proc, read asynchronously. @internal */
export const procFs: ProcFs = {
  list: () => readdir('/proc'),
  readStat: (pid) => readFile(`/proc/${pid}/stat`, 'latin1'),
  readEnviron: (pid) => readFile(`/proc/${pid}/environ`),
};

/** The real /proc, read synchronously. @internal */
export const procFsSync: ProcFsSync = {
  list: () => readdirSync('/proc'),
  readStat: (pid) => readFileSync(`/proc/${pid}/stat`, 'latin1'),
  readEnviron: (pid) => readFileSync(`/proc/${pid}/environ`),
};

/** What a tree scan needs from /proc/<pid>/stat. @internal */
export interface ProcStat {
  /** One letter: R, S, D, T, Z (zombie), X (dead), ... */
  readonly state: string;
  /** The parent's pid. */
  readonly ppid: number;
  readonly pgrp: number;
  readonly session: number;
  /** A kernel thread: no user memory, no environment, never anybody's descendant. */
  readonly kernelThread: boolean;
  /** When the process started, in clock ticks after boot. */
  readonly startTicks: number;
}

const PF_KTHREAD = 0x0020_0000;

/**
 * Parses /proc/<pid>/stat: "pid (comm) state ppid pgrp session tty tpgid flags ... starttime ...".
 * `comm` may hold spaces and parentheses, so fields are counted from the last ')'.
 * @internal
 */
export function parseStat(stat: string): ProcStat {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 20);
  return {
    state: fields[0] ?? '',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    session: Number(fields[3]),
    kernelThread: (Number(fields[6]) & PF_KTHREAD) !== 0,
    startTicks: Number(fields[19]),
  };
}

/** False for a zombie (exited, not yet reaped) or a dead process: nothing of it runs. @internal */
export function isLiveState(state: string): boolean {
  return state !== 'Z' && state !== 'X';
}

/** `code` of a Node system error, or undefined. @internal */
export function errnoOf(error: unknown): unknown {
  try {
    return (error as { code?: unknown } | null)?.code;
  } catch {
    return undefined;
  }
}

/** The process vanished while it was being read. */
function vanished(error: unknown): boolean {
  const errno = errnoOf(error);
  return errno === 'ENOENT' || errno === 'ESRCH';
}

/**
 * Who belongs to a process tree, by any of the ids the tree-kill modes use. A process matches when
 * it is alive and any given id matches it. @internal
 */
export interface TreeIdentity {
  /** The process group the tree's root leads. */
  readonly pgid?: number;
  /** The process groups of further roots (see {@link TreeIdentity.sids}). */
  readonly pgids?: ReadonlySet<number>;
  /** The session the tree's root leads. */
  readonly sid?: number;
  /**
   * The sessions of further roots (a tree with many roots: the processes a worker thread spawned,
   * each leading a session of its own). Each must be known to be the tree's: a root the caller has
   * not reaped, so that its id cannot have been reused.
   */
  readonly sids?: ReadonlySet<number>;
  /** A token in the `TASKWARDEN_TREE` variable of the environment a process started with. */
  readonly cookie?: string;
  /** Only processes started at or after this many clock ticks after boot can match by cookie. */
  readonly bornAfterTicks?: number;
  /** Never matches (the caller itself). */
  readonly exclude?: number;
  /** Members of this process group never match (the caller signals that group itself). */
  readonly outsideGroup?: number;
}

/** What a scan found. @internal */
export interface TreeScan {
  /** Live members, in /proc order. */
  readonly pids: number[];
  /**
   * A process could not be read for another reason than its exit (EMFILE under descriptor
   * pressure, EACCES, ...): it may be a member. A verdict that the tree is gone must not be drawn.
   */
  readonly uncertain: boolean;
}

/** Whether pid's stat alone decides; undefined when its environment must be read. */
function matchByStat(stat: ProcStat, identity: TreeIdentity): boolean | undefined {
  if (!isLiveState(stat.state) || stat.kernelThread || stat.pgrp === identity.outsideGroup) return false;
  if (identity.pgid !== undefined && stat.pgrp === identity.pgid) return true;
  if (identity.pgids?.has(stat.pgrp) === true) return true;
  if (identity.sid !== undefined && stat.session === identity.sid) return true;
  if (identity.sids?.has(stat.session) === true) return true;
  if (identity.cookie === undefined) return false;
  if (identity.bornAfterTicks !== undefined && stat.startTicks < identity.bornAfterTicks) return false;
  return undefined;
}

function isPid(entry: string): boolean {
  const first = entry.charCodeAt(0);
  return first >= 48 && first <= 57;
}

/** /proc files read at once: enough to keep a scan quick, few enough to leave descriptors to others. */
const SCAN_CONCURRENCY = 8;

/**
 * Finds the live members of a tree in /proc, asynchronously (a busy host does not stall) and a few
 * files at a time (the scan does not itself exhaust the descriptor table). A process that vanished
 * while being read counts as gone; any other read failure makes the scan `uncertain`. An
 * environment that cannot be read because the process has none (a kernel thread) or belongs to
 * another user (EACCES: it cannot have inherited the caller's cookie unless it is set-user-ID) does
 * not match. With `firstOnly` the scan stops at the first member (or the first uncertainty).
 * Elsewhere than Linux there is no /proc: the answer is `uncertain`.
 * @internal
 */
export async function scanTree(
  identity: TreeIdentity,
  options: { proc?: ProcFs; firstOnly?: boolean } = {},
): Promise<TreeScan> {
  const proc = options.proc ?? procFs;
  if (process.platform !== 'linux' && proc === procFs) return { pids: [], uncertain: true };
  let entries: string[];
  try {
    entries = await proc.list();
  } catch {
    return { pids: [], uncertain: true };
  }
  const candidates = entries.filter(isPid);
  const pids: number[] = [];
  let uncertain = false;
  let next = 0;
  const done = () => options.firstOnly === true && (pids.length > 0 || uncertain);
  const scan = async (): Promise<void> => {
    while (!done() && next < candidates.length) {
      const entry = candidates[next++] as string;
      const pid = Number(entry);
      if (pid === identity.exclude) continue;
      let matched: boolean | undefined;
      try {
        matched = matchByStat(parseStat(await proc.readStat(entry)), identity);
      } catch (error) {
        if (!vanished(error)) uncertain = true;
        continue;
      }
      if (matched === undefined) {
        try {
          const environ = proc.readEnviron ? await proc.readEnviron(entry) : undefined;
          matched = environ !== undefined && environHasCookie(environ, identity.cookie as string);
        } catch (error) {
          const errno = errnoOf(error);
          if (!vanished(error) && errno !== 'EACCES' && errno !== 'EPERM') uncertain = true;
          continue;
        }
      }
      if (matched) pids.push(pid);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SCAN_CONCURRENCY, candidates.length) }, scan));
  return { pids, uncertain };
}

/**
 * {@link scanTree} for a process that is about to die and has no event loop to spare (the child
 * when its host is gone): synchronous, returns the members it found; read failures are skipped.
 * @internal
 */
export function scanTreeSync(identity: TreeIdentity, proc: ProcFsSync = procFsSync): number[] {
  let entries: string[];
  try {
    entries = proc.list();
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!isPid(entry) || Number(entry) === identity.exclude) continue;
    try {
      let matched = matchByStat(parseStat(proc.readStat(entry)), identity);
      if (matched === undefined)
        matched = environHasCookie(proc.readEnviron(entry), identity.cookie as string);
      if (matched) pids.push(Number(entry));
    } catch {
      // Gone, or unreadable: nothing the caller could do about it on the way out.
    }
  }
  return pids;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux port Node runs on). */
const USER_HZ = 100;

/**
 * The earliest start time (clock ticks after boot) of a process started `ageMs` ago or later, less
 * one second of slack, for {@link TreeIdentity.bornAfterTicks}: processes older than a tree's root
 * cannot be its descendants, so their environment need not be read. Undefined when /proc/uptime
 * cannot be read.
 * @internal
 */
export function bornAfterTicks(ageMs: number, readUptime: () => string = readProcUptime): number | undefined {
  try {
    const uptimeSeconds = Number.parseFloat(readUptime());
    if (!Number.isFinite(uptimeSeconds)) return undefined;
    return Math.max(0, Math.floor((uptimeSeconds - ageMs / 1000 - 1) * USER_HZ));
  } catch {
    return undefined;
  }
}

function readProcUptime(): string {
  return readFileSync('/proc/uptime', 'latin1');
}
