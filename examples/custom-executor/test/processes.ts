// How the tests prove that no script outlived them: every process the ShellExecutor starts
// inherits the host's environment, so a marker variable set before the first spawn tags the scripts
// and everything they start (a `sleep` too). Linux only (/proc); that is where these tests run.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Tags every process started from now on by this test file (each file runs in its own fork) and
 * returns the tag, `NAME=value`, for {@link processesWithEnv} and {@link survivors}.
 */
export function tagChildProcesses(): string {
  const id = randomUUID();
  process.env.TW_TEST_RUN = id;
  return `TW_TEST_RUN=${id}`;
}

/** Pids of live processes whose environment contains `marker` (`NAME=value`); zombies excluded. */
export function processesWithEnv(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      // A zombie's environ reads as empty, so it never matches: it runs nothing any more.
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(marker)) {
        pids.push(Number(entry));
      }
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

/** Waits up to `ms` for every tagged process to be gone and returns the ones still alive. */
export async function survivors(marker: string, ms = 2_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  let alive = processesWithEnv(marker);
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(20);
    alive = processesWithEnv(marker);
  }
  return alive;
}
