/** Process helpers of the cluster tests: the SDK's shared ones, and a last-resort cleanup. */
import { isGone } from '@taskwarden/sdk/testing';

export { isGone, sleep, until, waitGone } from '@taskwarden/sdk/testing';

/** SIGKILLs each pid and its group if still alive; returns the survivors it found (a leak). */
export function killSurvivors(pids: Iterable<number>): number[] {
  const survivors = [...pids].filter((pid) => !isGone(pid));
  for (const pid of survivors) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        /* gone, or not a group */
      }
    }
  }
  return survivors;
}
