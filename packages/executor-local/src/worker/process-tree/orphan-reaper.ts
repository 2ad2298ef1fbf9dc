/**
 * The orphan reaper: what a thread's sentinel (see `sentinel.ts`) runs when the host process has
 * died, to kill what the thread's tasks spawned. A thread cannot outlive its host, but the
 * processes it spawned can: they lead their own process groups and sessions, so nothing else stops
 * them.
 *
 *   node orphan-reaper.cjs <mode> <cookie> <cgroup | -> [pid:startTicks...]
 *
 * The tree is killed by the same machinery and mode as while the host lived (`thread-tree.ts`): in
 * `'cgroup'` mode by `cgroup.kill` on the thread's cgroup, which is then removed; in `'cookie'` mode
 * (and in `'cgroup'` mode too, for a process that could not join the cgroup) every process carrying
 * the thread's cookie and every live process of the sessions its spawns lead; in every mode the
 * groups its spawns lead. The spawns are those the thread reported and had not reaped; the host is
 * gone, so init may have reaped one since and its pid been reused: a spawn counts only while a
 * process with its pid has its start time. Bundled to one CommonJS file by the package's build;
 * writes nothing.
 * @internal
 * @module
 */
import type { TreeKillMode } from '@taskwarden/sdk/internal';
import { ProcessTree, parseStat, procFsSync, scanTree, TREE_KILL_MODES } from '@taskwarden/sdk/internal';

/** Longer than the host's bound: nobody waits for it, and nothing else will try again. */
const REAPER_BOUND_MS = 3_000;
const PAUSE_MS = 20;

/** The spawns (`pid:startTicks`) that are still the processes the thread started. */
function stillSpawned(entries: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of entries) {
    const [pid, ticks] = entry.split(':').map(Number);
    if (pid === undefined || !Number.isSafeInteger(pid) || pid <= 1 || !ticks) continue;
    try {
      if (parseStat(procFsSync.readStat(String(pid))).startTicks === ticks) pids.push(pid);
    } catch {
      // Gone: what it left is reached by the cgroup or the cookie only.
    }
  }
  return pids;
}

async function reap(mode: TreeKillMode, cookie: string, cgroup: string | undefined, spawns: number[]) {
  const deadline = performance.now() + REAPER_BOUND_MS;
  const roots = () => spawns;
  const byCookie = mode === 'process-group' ? undefined : new ProcessTree({ mode: 'cookie', cookie, roots });
  const byCgroup = mode === 'cgroup' && cgroup !== undefined ? new ProcessTree({ mode, cgroup }) : undefined;
  for (;;) {
    for (const pid of spawns) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // The group is gone.
      }
    }
    let alive = byCookie === undefined ? false : await byCookie.sweep();
    if (byCgroup !== undefined) {
      // Removed once empty: a spawn that had not joined the cgroup yet then never runs its command.
      alive = (await byCgroup.sweep()) || !byCgroup.remove() || alive;
    }
    if (mode === 'process-group' && spawns.length > 0) {
      const scan = await scanTree({ pgids: new Set(spawns) }, { firstOnly: true });
      alive = scan.pids.length > 0 || scan.uncertain;
    }
    if (!alive || performance.now() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
  }
}

const [mode, cookie, cgroup, ...entries] = process.argv.slice(2);
if (TREE_KILL_MODES.includes(mode as TreeKillMode) && cookie !== undefined && cookie.length > 0) {
  void reap(mode as TreeKillMode, cookie, cgroup === '-' ? undefined : cgroup, stillSpawned(entries)).finally(
    () => process.exit(0),
  );
}
