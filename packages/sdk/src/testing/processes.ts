import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './wait.js';

/**
 * True when no live process has this pid: `ESRCH`, or `/proc` says it is a zombie (exited, not yet
 * reaped by its parent) or gone.
 */
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
export async function waitGone(pids: readonly number[], ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const alive = pids.filter((pid) => !isGone(pid));
    if (alive.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes still alive after ${ms} ms: ${alive.join(', ')}`);
    await sleep(10);
  }
}

/** A temporary directory removed (recursively) on dispose: `using dir = tempDir('name')`. */
export interface TempDir extends Disposable {
  /** The directory's absolute path. */
  readonly path: string;
  /** `join(path, ...parts)`. */
  file(...parts: string[]): string;
  /** Removes it now (what dispose does). Idempotent. */
  remove(): void;
}

/** Makes a fresh directory under the OS temp dir, named `taskwarden-<prefix>-XXXXXX`. */
export function tempDir(prefix: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), `taskwarden-${prefix}-`));
  const remove = (): void => rmSync(path, { recursive: true, force: true });
  return { path, file: (...parts) => join(path, ...parts), remove, [Symbol.dispose]: remove };
}
