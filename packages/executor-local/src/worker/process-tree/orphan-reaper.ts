/**
 * The orphan reaper: what a thread's sentinel (see `sentinel.ts`) runs when the host process has
 * died, to kill what the thread's tasks spawned. A thread cannot outlive its host, but the
 * processes it spawned can: they lead their own process groups, so nothing else stops them.
 *
 *   node orphan-reaper.cjs <thread token> [pgid...]
 *
 * The groups are those the thread reported; the host is gone, so their leaders may have been
 * reaped by init and their ids reused: a group is only signalled while a process carrying the
 * cookie is in it. Bundled to one CommonJS file by the package's build; writes nothing.
 * @internal
 * @module
 */
import { killTree } from './kill-tree.js';

/** Longer than the host's bound: nobody waits for it, and nothing else will try again. */
const REAPER_BOUND_MS = 3_000;

const [token, ...rest] = process.argv.slice(2);
if (token !== undefined && token.length > 0) {
  const groups = rest.map(Number).filter((pgid) => Number.isSafeInteger(pgid) && pgid > 1);
  void killTree({
    token,
    groups: () => groups.map((pgid) => ({ pgid, trusted: false })),
    boundMs: REAPER_BOUND_MS,
    pauseMs: 20,
  }).finally(() => process.exit(0));
}
