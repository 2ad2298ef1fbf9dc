/**
 * Process-group helpers. A child started with `detached: true` leads its own group (pgid = pid), and
 * its descendants stay in it unless they create their own; signalling `-pgid` reaches all of them.
 * @internal
 * @module
 */
import { readdir, readFile } from 'node:fs/promises';

/** The signature of `process.kill`, injectable for fault-injection tests. */
export type KillFunction = (pid: number, signal?: NodeJS.Signals | number) => boolean;

function errnoOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/**
 * Sends `signal` to every process of the group. Returns false when the group no longer exists
 * (ESRCH); throws anything else (EPERM, a failing seam).
 */
export function signalGroup(kill: KillFunction, pgid: number, signal: NodeJS.Signals): boolean {
  try {
    kill(-pgid, signal);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ESRCH') return false;
    throw error;
  }
}

const linux = process.platform === 'linux';

/**
 * False once no process is left in the group (ESRCH). A group whose only members are zombies still
 * exists: see {@link hasLiveMember}. Throws what the kill function throws other than ESRCH and EPERM.
 */
export function groupExists(kill: KillFunction, pgid: number): boolean {
  try {
    kill(-pgid, 0);
    return true;
  } catch (error) {
    const errno = errnoOf(error);
    if (errno === 'ESRCH') return false;
    if (errno === 'EPERM') return true; // a member we may not signal is still a member
    throw error;
  }
}

/** How {@link hasLiveMember} reads /proc; replaceable in tests. @internal */
export interface ProcFs {
  /** The entries of /proc. */
  list(): Promise<string[]>;
  /** The contents of /proc/<pid>/stat. */
  readStat(pid: string): Promise<string>;
}

const procfs: ProcFs = {
  list: () => readdir('/proc'),
  readStat: (pid) => readFile(`/proc/${pid}/stat`, 'latin1'),
};

/** /proc files read at once: enough to keep a scan quick, few enough to leave descriptors to others. */
const SCAN_CONCURRENCY = 8;

/**
 * Whether a group that still exists has a member that is not a zombie.
 *
 * `kill(-pgid, 0)` succeeds while a zombie belongs to the group, and an orphaned grandchild that
 * died is a zombie until its new parent reaps it; when PID 1 does not reap (minimal container
 * inits do not), it stays one forever. On Linux a group whose remaining members are all zombies
 * counts as gone: nothing in it runs or holds resources but a pid. Elsewhere this cannot be told
 * and the answer is true.
 *
 * The scan reads /proc asynchronously, so a busy host does not stall, and a few files at a time,
 * so it does not itself exhaust the descriptor table. Only a process that vanished while being
 * read (ENOENT, ESRCH) counts as gone; any other failure (EMFILE, EACCES, ...) leaves the answer
 * unknown, which counts as alive: a live group must never be reported gone.
 */
export async function hasLiveMember(pgid: number, proc: ProcFs = procfs): Promise<boolean> {
  if (!linux) return true;
  let entries: string[];
  try {
    entries = await proc.list();
  } catch {
    return true; // cannot tell: assume alive
  }
  const pids = entries.filter((entry) => {
    const first = entry.charCodeAt(0);
    return first >= 48 && first <= 57; // a pid
  });
  let next = 0;
  let live = false;
  const scan = async (): Promise<void> => {
    while (!live && next < pids.length) {
      const pid = pids[next++] as string;
      let stat: string;
      try {
        stat = await proc.readStat(pid);
      } catch (error) {
        const errno = errnoOf(error);
        if (errno === 'ENOENT' || errno === 'ESRCH') continue; // exited meanwhile
        live = true;
        return;
      }
      // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 4);
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') live = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(SCAN_CONCURRENCY, pids.length) }, scan));
  return live;
}

/**
 * Whether the process `pid` is alive: not gone and not a zombie (dead, waiting to be reaped). Read
 * from /proc on Linux; elsewhere, or when /proc cannot be read for another reason than the process
 * being gone, the answer is true (cannot tell counts as alive, as for {@link hasLiveMember}).
 */
export async function isLiveProcess(pid: number, proc: ProcFs = procfs): Promise<boolean> {
  if (!linux) return true;
  let stat: string;
  try {
    stat = await proc.readStat(String(pid));
  } catch (error) {
    const errno = errnoOf(error);
    return errno !== 'ENOENT' && errno !== 'ESRCH';
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 1)[0];
  return state !== 'Z' && state !== 'X';
}
