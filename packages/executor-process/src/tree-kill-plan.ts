/**
 * How an executor's children are started so that their whole trees can be killed: the tree-kill
 * mode chosen at executor start, each child's cgroup and cookie, and the parent-death signal.
 * @internal
 * @module
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { OwnTree, TreeKillMode } from '@taskwarden/sdk/internal';
import {
  CGROUP_PREFIX,
  createCgroup,
  errnoOf,
  newTreeCookie,
  resolveTreeKill,
} from '@taskwarden/sdk/internal';

/**
 * How a child's descendants are found and killed: `'cgroup'` (a cgroup v2 per child),
 * `'cookie'` (its process group, its session and its environment cookie) or `'process-group'`.
 */
export type { TreeKillMode };

/** The tree-kill modes an executor accepts, `'auto'` for the strongest available. */
export type TreeKillOption = 'auto' | TreeKillMode;

/** What one child is started with. @internal */
export interface ChildTreeSetup {
  /** What the child's runner is told (it kills this tree when the host is gone). */
  readonly own: OwnTree;
  /** The cookie to put in the child's environment (`'cookie'` and `'cgroup'` modes). */
  readonly cookie: string | undefined;
  /** The child's cgroup, created already (`'cgroup'` mode). */
  readonly cgroup: string | undefined;
  /** Why the child gets a weaker mode than the executor's (its cgroup could not be created). */
  readonly degraded: string | undefined;
}

/**
 * The signal the kernel sends a child when the host (the thread that spawned it) dies. SIGCONT, not
 * SIGKILL: a SIGKILL would end the child before its watchdog could kill its descendants, which
 * nobody else would be left to do; SIGCONT wakes a stopped child (SIGSTOP freezes its watchdog
 * thread too), whose watchdog then sees the host gone and kills the whole tree, the child last.
 * And a spawning thread that ends (an executor used from a worker thread) wakes children that
 * are not stopped, which changes nothing for them.
 */
const PARENT_DEATH_SIGNAL = 'CONT';

let setprivPath: string | null | undefined;

/**
 * util-linux `setpriv`, if this machine has one that sets a parent-death signal (checked once per
 * process: `setpriv --pdeathsig CONT -- setpriv --version` must succeed).
 */
function findSetpriv(): string | undefined {
  if (setprivPath !== undefined) return setprivPath ?? undefined;
  setprivPath = null;
  if (process.platform !== 'linux') return undefined;
  const dirs = new Set([
    ...(process.env.PATH ?? '').split(':').filter((dir) => dir.length > 0),
    '/usr/bin',
    '/bin',
  ]);
  for (const dir of dirs) {
    const candidate = join(dir, 'setpriv');
    try {
      accessSync(candidate, constants.X_OK);
    } catch {
      continue;
    }
    const probe = spawnSync(candidate, ['--pdeathsig', PARENT_DEATH_SIGNAL, '--', candidate, '--version'], {
      stdio: 'ignore',
      timeout: 5_000,
    });
    if (probe.status === 0) {
      setprivPath = candidate;
      break;
    }
  }
  return setprivPath ?? undefined;
}

/**
 * An executor's tree-kill setup, fixed at its start: the mode (the strongest this machine allows,
 * or the one asked for), where the children's cgroups go, and whether children get a parent-death
 * signal (`setpriv --pdeathsig CONT` as the spawn wrapper).
 * @internal
 */
export class TreeKillPlan {
  readonly mode: TreeKillMode;
  /** Where the children's cgroups are created (the host's own cgroup), in `'cgroup'` mode. */
  readonly cgroupDir: string | undefined;
  /** Why each mode stronger than `mode` is not used. */
  readonly unavailable: Readonly<Partial<Record<TreeKillMode, string>>>;
  /** The setpriv that starts every child, when there is one. */
  readonly setpriv: string | undefined;
  /** Names this executor's cgroups apart from another executor's of the same host. */
  readonly #token = Math.random().toString(36).slice(2, 8);
  #next = 0;

  /** @throws RangeError naming `option` when the requested mode is not available here. */
  constructor(requested: TreeKillOption, option: string) {
    const resolved = resolveTreeKill(requested, option);
    this.mode = resolved.mode;
    this.cgroupDir = resolved.cgroupDir;
    this.unavailable = resolved.unavailable;
    this.setpriv = findSetpriv();
  }

  /** The command and arguments that start `node <args>` under the parent-death signal, if any. */
  command(nodeArgs: readonly string[]): [string, string[]] {
    return this.setpriv === undefined
      ? [process.execPath, [...nodeArgs]]
      : [this.setpriv, ['--pdeathsig', PARENT_DEATH_SIGNAL, '--', process.execPath, ...nodeArgs]];
  }

  /** Sets up the next child's tree: its cookie and, in `'cgroup'` mode, its (empty) cgroup. */
  prepare(): ChildTreeSetup {
    if (this.mode === 'process-group') {
      return { own: { mode: 'process-group' }, cookie: undefined, cgroup: undefined, degraded: undefined };
    }
    const cookie = newTreeCookie();
    if (this.mode === 'cgroup' && this.cgroupDir !== undefined) {
      const name = `${CGROUP_PREFIX}${process.pid}-${this.#token}-${this.#next++}`;
      try {
        const cgroup = createCgroup(this.cgroupDir, name);
        return { own: { mode: 'cgroup', cookie, cgroup }, cookie, cgroup, degraded: undefined };
      } catch (error) {
        const degraded = `cannot create the child's cgroup in ${this.cgroupDir} (${String(errnoOf(error) ?? error)})`;
        return { own: { mode: 'cookie', cookie }, cookie, cgroup: undefined, degraded };
      }
    }
    return { own: { mode: 'cookie', cookie }, cookie, cgroup: undefined, degraded: undefined };
  }
}
