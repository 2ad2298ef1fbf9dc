/**
 * Inside a worker thread: every process the thread's tasks spawn — `spawn`, `exec`, `execFile`,
 * `fork` and their `*Sync` variants, whichever way task code imports them — is put into a process
 * group of its own and carries the thread's and the task's cookie tokens (see `tree-cookie.ts`), and the host learns
 * its pid. So the host can stop what a task spawned with the task's thread, and the thread's
 * sentinel (see `sentinel.ts`) can when the host dies.
 *
 * Why at the level of Node's internal bindings (`process_wrap`'s `Process#spawn`, `spawn_sync`'s
 * `spawn`) rather than `child_process`'s exports: every public way to spawn ends there, with its
 * options already normalised, and wrapping them costs nothing until a task spawns. Wrapping the
 * public module would mean loading it in every new thread before any task code (about 2.5 ms of a
 * thread's start), for tasks that mostly never spawn. If the bindings are not there (a future Node),
 * nothing is tracked: {@link trackSpawns} returns false.
 * @internal
 * @module
 */
import { createRequire } from 'node:module';
import { SPAWNED, STOPPING } from '../protocol.js';
import type { Sentinel } from './sentinel.js';
import { startSentinel } from './sentinel.js';
import { taskToken, withTokens } from './tree-cookie.js';

/** The normalised options Node's bindings receive (only what is changed here). */
interface BindingSpawnOptions {
  envPairs?: unknown;
  detached?: boolean;
}

interface ProcessHandle {
  readonly pid?: number;
  onexit?: (...args: unknown[]) => unknown;
}

type HandleSpawn = (this: ProcessHandle, options: BindingSpawnOptions) => number;
type SyncSpawn = (options: BindingSpawnOptions) => unknown;

/** What tracking needs from the runner. */
export interface SpawnTrackingOptions {
  /** The thread's shared slots; `SPAWNED` is set before the first spawn. */
  readonly signals: Int32Array;
  /** The thread's cookie token. */
  readonly token: string;
  /** The task that runs now (0 between tasks). */
  readonly currentTask: () => number;
  /** A process was spawned (asynchronously: the pid is known before it runs). */
  readonly spawned: (pid: number, taskId: number) => void;
  /** It has exited and been reaped. */
  readonly reaped: (pid: number, taskId: number) => void;
  /** Path of the bundled orphan reaper, for the sentinel. */
  readonly reaperPath: string;
}

/** Installs the tracking; false when Node's bindings are not as expected (nothing is tracked). */
export function trackSpawns(options: SpawnTrackingOptions): boolean {
  const bindings = loadBindings();
  if (bindings === undefined) return false;
  const { handleSpawn, setHandleSpawn, syncSpawn, setSyncSpawn } = bindings;
  const { signals, token, currentTask, spawned, reaped } = options;
  let sentinel: Sentinel | undefined;
  let sentinelStarted = false;
  let bypass = false;

  const prepare = (spawnOptions: BindingSpawnOptions): void => {
    Atomics.store(signals, SPAWNED, 1);
    // After SPAWNED, see STOPPING: a process started now might escape a hard stop already begun.
    if (Atomics.load(signals, STOPPING) !== 0) {
      throw new Error('the worker thread is being stopped: it starts no more processes');
    }
    if (!sentinelStarted) {
      // Before the first process exists, so no moment is left when the host could die unwatched.
      sentinelStarted = true;
      bypass = true;
      try {
        const { spawn } = createRequire(`${process.cwd()}/`)(
          'node:child_process',
        ) as typeof import('node:child_process');
        sentinel = startSentinel({
          spawn,
          hostPid: process.pid,
          execPath: process.execPath,
          reaperPath: options.reaperPath,
          token,
        });
      } finally {
        bypass = false;
      }
    }
    // Its own group (and session): a group kill reaches it and what it starts, and nothing else.
    spawnOptions.detached = true;
    const env = Array.isArray(spawnOptions.envPairs) ? spawnOptions.envPairs : envPairs(process.env);
    spawnOptions.envPairs = withTokens(env, [token, taskToken(token, currentTask())]);
  };

  setHandleSpawn(function spawn(this: ProcessHandle, spawnOptions: BindingSpawnOptions): number {
    if (bypass) return handleSpawn.call(this, spawnOptions);
    prepare(spawnOptions);
    const result = handleSpawn.call(this, spawnOptions);
    const pid = this.pid;
    if (result === 0 && typeof pid === 'number') {
      const taskId = currentTask();
      spawned(pid, taskId);
      sentinel?.add(pid);
      const onexit = this.onexit;
      if (typeof onexit === 'function') {
        this.onexit = function (this: ProcessHandle, ...args: unknown[]): unknown {
          reaped(pid, taskId);
          return onexit.apply(this, args);
        };
      }
    }
    return result;
  });
  setSyncSpawn((spawnOptions: BindingSpawnOptions): unknown => {
    // The host cannot learn this pid before the call returns: it finds the process by its cookie.
    prepare(spawnOptions);
    return syncSpawn(spawnOptions);
  });
  return true;
}

interface Bindings {
  readonly handleSpawn: HandleSpawn;
  readonly setHandleSpawn: (spawn: HandleSpawn) => void;
  readonly syncSpawn: SyncSpawn;
  readonly setSyncSpawn: (spawn: SyncSpawn) => void;
}

function loadBindings(): Bindings | undefined {
  const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
  if (typeof binding !== 'function') return undefined;
  // process.binding() is deprecated for task code; this is not a warning any user should see.
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    const processWrap = binding.call(process, 'process_wrap') as {
      Process?: { prototype: { spawn?: unknown } };
    };
    const spawnSync = binding.call(process, 'spawn_sync') as { spawn?: unknown };
    const prototype = processWrap?.Process?.prototype;
    if (typeof prototype?.spawn !== 'function' || typeof spawnSync?.spawn !== 'function') return undefined;
    const syncSpawn = spawnSync.spawn as SyncSpawn;
    return {
      handleSpawn: prototype.spawn as HandleSpawn,
      setHandleSpawn: (spawn) => {
        prototype.spawn = spawn;
      },
      syncSpawn: (spawnOptions) => syncSpawn.call(spawnSync, spawnOptions),
      setSyncSpawn: (spawn) => {
        spawnSync.spawn = spawn;
      },
    };
  } catch {
    return undefined;
  } finally {
    process.noDeprecation = quiet;
  }
}

function envPairs(env: NodeJS.ProcessEnv): string[] {
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(env)) if (value !== undefined) pairs.push(`${key}=${value}`);
  return pairs;
}
