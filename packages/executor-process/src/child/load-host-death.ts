/**
 * Loads and runs the host-death tree kill (`host-death.cjs`) in the runner or the watchdog thread.
 * @internal
 * @module
 */
import { join } from 'node:path';
import type { OwnTree } from '@taskwarden/sdk/internal';

/**
 * Kills the calling child's whole tree, itself last, with `killOwnTree` from the `host-death.cjs`
 * bundle next to the caller's (`bundleDir`: the caller's `__dirname`). Returns only if that failed
 * (the bundle cannot be loaded, or no way of killing worked); the caller then kills its own process.
 */
export function killOwnTreeNow(bundleDir: string, tree: OwnTree | undefined): void {
  try {
    // Required here, not imported: the bundle loads only when the host is gone.
    const { killOwnTree } = require(join(bundleDir, 'host-death.cjs')) as typeof import('./host-death.js');
    killOwnTree(tree ?? { mode: 'process-group' });
  } catch {
    // Could not even load it (descriptors exhausted?): at least the process group.
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      // The caller leads no process group: it kills itself.
    }
  }
}
