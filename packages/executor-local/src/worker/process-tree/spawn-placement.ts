/**
 * Inside a worker thread, in `'cgroup'` mode: every process the thread's tasks spawn joins the
 * thread's cgroup before it runs anything. Node's spawn bindings return the pid only once the
 * process has started its program, and whatever that program forked by then (a daemon that cleared
 * its environment and left the session) would never be in the cgroup if the process were moved
 * afterwards. So the spawn is rewritten to start through the shared machinery's `cgroupExec`: a
 * `/bin/sh` that joins the cgroup and `exec`s the command (same pid, arguments and environment).
 *
 * The thread creates its cgroup at its first spawn (a thread whose tasks spawn nothing has none),
 * and the host removes it once the thread has ended (`thread-tree.ts`). A spawn that cannot go
 * through the wrapper unchanged — its own `argv0`, `uid` or `gid`, an environment name a shell
 * drops, a command that is not found — or that comes when the cgroup cannot be created, starts as
 * it would without it; the thread then says so in `signals[UNPLACED]`, the host adds the `'cookie'`
 * search for that thread, and an asynchronous spawn is moved into the cgroup as soon as its pid is
 * known, so that at least what it starts from then on is inside.
 * @internal
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupExec, cgroupExecProblem, errnoOf } from '@taskwarden/sdk/internal';
import { UNPLACED } from '../protocol.js';

/** The normalised options Node's spawn bindings receive (only what is read or changed here). */
export interface BindingSpawnOptions {
  file?: unknown;
  args?: unknown;
  envPairs?: unknown;
  cwd?: unknown;
  uid?: unknown;
  gid?: unknown;
  detached?: boolean;
}

/** Puts a worker thread's spawns into its cgroup (see the module). @internal */
export class SpawnPlacement {
  readonly #cgroup: string;
  readonly #signals: Int32Array;
  #created = false;

  /** `cgroup`: the thread's cgroup; `signals`: the thread's shared slots. */
  constructor(cgroup: string, signals: Int32Array) {
    this.#cgroup = cgroup;
    this.#signals = signals;
  }

  /**
   * Rewrites the spawn (its final environment already in `envPairs`) so that the process joins the
   * cgroup before it runs. Returns true when it cannot: the process starts outside the cgroup (the
   * thread is marked `UNPLACED` first); move it with {@link moveIn} once its pid is known.
   */
  prepare(options: BindingSpawnOptions): boolean {
    if (this.#createCgroup() && this.#wrap(options)) return false;
    Atomics.store(this.#signals, UNPLACED, 1);
    return true;
  }

  /** Moves a process that started outside the cgroup into it; what it starts from now on is inside. */
  moveIn(pid: number): void {
    try {
      writeFileSync(join(this.#cgroup, 'cgroup.procs'), String(pid));
    } catch {
      // It has exited already (ESRCH), or the cgroup is gone (the thread is being stopped).
    }
  }

  #createCgroup(): boolean {
    if (this.#created) return true;
    try {
      mkdirSync(this.#cgroup);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') return false; // tried again at the next spawn
    }
    this.#created = true;
    return true;
  }

  #wrap(options: BindingSpawnOptions): boolean {
    const { file, args, envPairs, cwd } = options;
    if (typeof file !== 'string' || !Array.isArray(args) || !Array.isArray(envPairs)) return false;
    // The wrapper would run as that user, who may not move processes between cgroups.
    if (options.uid != null || options.gid != null) return false;
    const spec = { file, args, envPairs, cwd: typeof cwd === 'string' ? cwd : undefined };
    if (cgroupExecProblem(spec) !== undefined) return false;
    const wrapped = cgroupExec(this.#cgroup, spec);
    options.file = wrapped.file;
    options.args = wrapped.args;
    return true;
  }
}
