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

/**
 * Whether a group that still exists has a member that is not a zombie.
 *
 * `kill(-pgid, 0)` succeeds while a zombie belongs to the group, and an orphaned grandchild that
 * died is a zombie until its new parent reaps it; when PID 1 does not reap (minimal container
 * inits do not), it stays one forever. On Linux a group whose remaining members are all zombies
 * counts as gone: nothing in it runs or holds resources but a pid. Elsewhere this cannot be told
 * and the answer is true. The scan reads /proc asynchronously so a busy host does not stall.
 */
export async function hasLiveMember(pgid: number): Promise<boolean> {
  if (!linux) return true;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return true; // cannot tell: assume alive
  }
  const states = await Promise.all(
    entries
      .filter((entry) => {
        const first = entry.charCodeAt(0);
        return first >= 48 && first <= 57; // a pid
      })
      .map((entry) =>
        readFile(`/proc/${entry}/stat`, 'latin1').then(
          (stat) => {
            // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
            const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 4);
            return Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X';
          },
          () => false, // exited meanwhile
        ),
      ),
  );
  return states.includes(true);
}
