/**
 * Inside a worker thread: every process the thread's tasks spawn — `spawn`, `exec`, `execFile`,
 * `fork` and their `*Sync` variants, whichever way task code imports them — is put into a process
 * group and session of its own, carries the thread's and the task's cookies in `TASKWARDEN_TREE`
 * (the format of `@taskwarden/sdk/internal`'s tree cookie), in `'cgroup'` mode joins the thread's
 * cgroup before it runs anything (see `spawn-placement.ts`), and the host learns its pid. So the
 * host can stop what a task spawned with the task's thread, and the thread's sentinel (see
 * `sentinel.ts`) can when the host dies.
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
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parseStat, withTreeCookiePairs } from '@taskwarden/sdk/internal';
import { SPAWNED, STOPPING, SYNC_SPAWNS } from '../protocol.js';
import type { Sentinel } from './sentinel.js';
import { startSentinel } from './sentinel.js';
import type { BindingSpawnOptions } from './spawn-placement.js';
import { SpawnPlacement } from './spawn-placement.js';
import type { ThreadTreeSpec } from './tree-kill-setup.js';

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
  /** The thread's tree-kill mode, cookie and cgroup. */
  readonly tree: ThreadTreeSpec;
  /** The task that runs now (0 between tasks). */
  readonly currentTask: () => number;
  /** A process was spawned (asynchronously: the pid is known before it runs). */
  readonly spawned: (pid: number, taskId: number) => void;
  /** It has exited and been reaped. */
  readonly reaped: (pid: number, taskId: number) => void;
  /** Path of the bundled orphan reaper, for the sentinel. */
  readonly reaperPath: string;
}

/** The cookie of one task's processes: the thread's, and which task started them. */
export function taskCookie(threadCookie: string, taskId: number): string {
  return `${threadCookie}-task-${taskId}`;
}

/** Installs the tracking; false when Node's bindings are not as expected (nothing is tracked). */
export function trackSpawns(options: SpawnTrackingOptions): boolean {
  const bindings = loadBindings();
  if (bindings === undefined) return false;
  const { handleSpawn, setHandleSpawn, syncSpawn, setSyncSpawn } = bindings;
  const { signals, tree, currentTask, spawned, reaped } = options;
  const placement = tree.cgroup === undefined ? undefined : new SpawnPlacement(tree.cgroup, signals);
  let sentinel: Sentinel | undefined;
  let sentinelStarted = false;
  let bypass = false;

  /** Readies a spawn; true when the process will start outside the thread's cgroup. */
  const prepare = (spawnOptions: BindingSpawnOptions): boolean => {
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
          tree,
        });
      } finally {
        bypass = false;
      }
    }
    // Its own group (and session): a group kill reaches it and what it starts, and nothing else.
    spawnOptions.detached = true;
    const env = Array.isArray(spawnOptions.envPairs) ? spawnOptions.envPairs : envPairs(process.env);
    spawnOptions.envPairs = withTreeCookiePairs(
      env.map(String),
      `${tree.cookie}:${taskCookie(tree.cookie, currentTask())}`,
    );
    return placement?.prepare(spawnOptions) ?? false;
  };

  setHandleSpawn(function spawn(this: ProcessHandle, spawnOptions: BindingSpawnOptions): number {
    if (bypass) return handleSpawn.call(this, spawnOptions);
    const { file, args } = spawnOptions;
    const outside = prepare(spawnOptions);
    let result: number;
    try {
      result = handleSpawn.call(this, spawnOptions);
    } finally {
      // What Node reads after the call (error messages, `spawnargs`) names the command, not the wrapper.
      spawnOptions.file = file;
      spawnOptions.args = args;
    }
    const pid = this.pid;
    if (result === 0 && typeof pid === 'number') {
      if (outside) placement?.moveIn(pid);
      const taskId = currentTask();
      spawned(pid, taskId);
      sentinel?.add(pid, startTicksOf(pid));
      const onexit = this.onexit;
      if (typeof onexit === 'function') {
        this.onexit = function (this: ProcessHandle, ...exitArgs: unknown[]): unknown {
          reaped(pid, taskId);
          sentinel?.remove(pid);
          return onexit.apply(this, exitArgs);
        };
      }
    }
    return result;
  });
  setSyncSpawn((spawnOptions: BindingSpawnOptions): unknown => {
    // The host cannot learn this pid before the call returns: while SYNC_SPAWNS says the thread waits
    // for one, it finds the process by its cgroup, or among its own children by the cookie. The
    // thread cannot exit before the process has.
    const { file, args } = spawnOptions;
    prepare(spawnOptions);
    Atomics.add(signals, SYNC_SPAWNS, 1);
    try {
      return syncSpawn(spawnOptions);
    } finally {
      Atomics.sub(signals, SYNC_SPAWNS, 1);
      spawnOptions.file = file;
      spawnOptions.args = args;
    }
  });
  return true;
}

/**
 * When process `pid` started (clock ticks after boot), so that the reaper can tell it from a later
 * process with the same pid; 0 when it cannot be read.
 */
function startTicksOf(pid: number): number {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1')).startTicks;
  } catch {
    return 0;
  }
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
