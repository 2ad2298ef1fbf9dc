import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './wait.js';

/**
 * True when no live process has this pid: `ESRCH`, or `/proc` says it is a zombie (exited, not yet
 * reaped by its parent) or gone. Takes one argument, so `pids.filter(isGone)` works; a pid that may
 * have been reused meanwhile wants {@link isProcessGone}.
 */
export function isGone(pid: number): boolean {
  return isProcessGone(pid, undefined);
}

/**
 * {@link isGone} for one process rather than a pid: with `startTicks` (from
 * {@link processStartTicks}, read while the process lived), a live process that started at another
 * time is another process reusing the pid (Linux reuses pids quickly where `pid_max` is 32768), so
 * the one meant is gone.
 */
export function isProcessGone(pid: number, startTicks: number | undefined): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const fields = statFields(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    const state = fields[0];
    if (state === 'Z' || state === 'X') return true;
    return startTicks !== undefined && Number(fields[19]) !== startTicks;
  } catch {
    return true;
  }
}

/**
 * When the process with this pid started (clock ticks after boot, `/proc/<pid>/stat` field 22), or
 * undefined when it is gone (or a zombie) or `/proc` cannot tell: with the pid, it names one process.
 */
export function processStartTicks(pid: number): number | undefined {
  try {
    const fields = statFields(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/** The fields of a `/proc/<pid>/stat` line after the command name: `[state, ppid, ...]`. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
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
