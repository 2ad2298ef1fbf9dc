/**
 * Process-group helpers. A child started with `detached: true` leads its own group (pgid = pid), and
 * its descendants stay in it unless they create their own; signalling `-pgid` reaches all of them.
 * @internal
 * @module
 */
import type { ProcFs } from '@taskwarden/sdk/internal';
import { errnoOf, isLiveState, parseStat, procFs, scanTree } from '@taskwarden/sdk/internal';

/** The signature of `process.kill`, injectable for fault-injection tests. */
export type KillFunction = (pid: number, signal?: NodeJS.Signals | number) => boolean;

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
export type { ProcFs };

/**
 * Whether a group that still exists has a member that is not a zombie.
 *
 * `kill(-pgid, 0)` succeeds while a zombie belongs to the group, and an orphaned grandchild that
 * died is a zombie until its new parent reaps it; when PID 1 does not reap (minimal container
 * inits do not), it stays one forever. On Linux a group whose remaining members are all zombies
 * counts as gone: nothing in it runs or holds resources but a pid. Elsewhere this cannot be told
 * and the answer is true.
 *
 * The scan (`scanTree` of `@taskwarden/sdk/internal`) reads /proc asynchronously, so a busy host
 * does not stall, and a few files at a time, so it does not itself exhaust the descriptor table.
 * Only a process that vanished while being read (ENOENT, ESRCH) counts as gone; any other failure
 * (EMFILE, EACCES, ...) leaves the answer unknown, which counts as alive: a live group must never
 * be reported gone.
 */
export async function hasLiveMember(pgid: number, proc: ProcFs = procFs): Promise<boolean> {
  if (!linux) return true;
  const scan = await scanTree({ pgid }, { proc, firstOnly: true });
  return scan.pids.length > 0 || scan.uncertain;
}

/**
 * Whether the process `pid` is alive: not gone and not a zombie (dead, waiting to be reaped). Read
 * from /proc on Linux; elsewhere, or when /proc cannot be read for another reason than the process
 * being gone, the answer is true (cannot tell counts as alive, as for {@link hasLiveMember}).
 */
export async function isLiveProcess(pid: number, proc: ProcFs = procFs): Promise<boolean> {
  if (!linux) return true;
  let stat: string;
  try {
    stat = await proc.readStat(String(pid));
  } catch (error) {
    const errno = errnoOf(error);
    return errno !== 'ENOENT' && errno !== 'ESRCH';
  }
  return isLiveState(parseStat(stat).state);
}
