/** Whether processes are gone, by pid (never by name). */
import { readFileSync } from 'node:fs';

/** True when no live process has this pid: ESRCH, or /proc says it is a zombie. */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** Resolves once every pid is gone; rejects naming the survivors after `ms`. */
export async function waitGone(pids: readonly number[], ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const alive = pids.filter((pid) => !isGone(pid));
    if (alive.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes still alive after ${ms} ms: ${alive.join(', ')}`);
    await sleep(10);
  }
}

/** SIGKILLs each pid and its group if still alive; returns the survivors it found. */
export function killSurvivors(pids: Iterable<number>): number[] {
  const survivors = [...pids].filter((pid) => !isGone(pid));
  for (const pid of survivors) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        /* gone or not a group */
      }
    }
  }
  return survivors;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` every 10 ms. */
export async function until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
