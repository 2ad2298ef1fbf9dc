/**
 * Which way of killing a whole process tree this machine allows, strongest first.
 * @internal
 * @module
 */
import { readFileSync } from 'node:fs';
import { ownCgroupDir, probeCgroupDir, sweepStaleCgroups } from './cgroup.js';
import { errnoOf } from './proc-table.js';

/**
 * How the descendants of a process are found and killed:
 *
 * - `'cgroup'`: each tree gets a cgroup v2; the kernel keeps every descendant in it, whatever
 *   process group or session it moves to, and `cgroup.kill` kills them all at once.
 * - `'cookie'`: the tree's process group, its session, and every process whose environment carries
 *   the tree's cookie (found by a scan of /proc).
 * - `'process-group'`: the tree's process group only.
 * @internal
 */
export type TreeKillMode = 'cgroup' | 'cookie' | 'process-group';

/** The modes, strongest first. @internal */
export const TREE_KILL_MODES: readonly TreeKillMode[] = ['cgroup', 'cookie', 'process-group'];

/** What {@link detectTreeKill} found. @internal */
export interface TreeKillSupport {
  /** The strongest mode available. */
  readonly mode: TreeKillMode;
  /** Where the trees' cgroups go (the caller's own cgroup), when `'cgroup'` is available. */
  readonly cgroupDir: string | undefined;
  /** Why each stronger mode is not available (empty when `mode` is `'cgroup'`). */
  readonly unavailable: Readonly<Partial<Record<TreeKillMode, string>>>;
}

/**
 * Detects the strongest tree-kill mode of this process: `'cgroup'` when cgroup v2 is mounted, the
 * process's own cgroup accepts child cgroups, and the kernel has `cgroup.kill`; `'cookie'` on Linux
 * with a readable /proc; `'process-group'` elsewhere. Probing cgroups also removes the empty ones
 * that hosts killed earlier left behind. Synchronous and quick (a few small files, one mkdir).
 * @internal
 */
export function detectTreeKill(): TreeKillSupport {
  const unavailable: Partial<Record<TreeKillMode, string>> = {};
  if (process.platform !== 'linux') {
    const reason = `not on Linux (${process.platform})`;
    return { mode: 'process-group', cgroupDir: undefined, unavailable: { cgroup: reason, cookie: reason } };
  }
  const own = ownCgroupDir();
  if ('dir' in own) {
    const problem = probeCgroupDir(own.dir);
    if (problem === undefined) {
      sweepStaleCgroups(own.dir);
      return { mode: 'cgroup', cgroupDir: own.dir, unavailable };
    }
    unavailable.cgroup = problem;
  } else {
    unavailable.cgroup = own.unavailable;
  }
  try {
    readFileSync('/proc/self/environ');
    readFileSync('/proc/self/stat');
    return { mode: 'cookie', cgroupDir: undefined, unavailable };
  } catch (error) {
    unavailable.cookie = `cannot read /proc/self (${String(errnoOf(error) ?? error)})`;
    return { mode: 'process-group', cgroupDir: undefined, unavailable };
  }
}

/**
 * Checks a tree-kill option: `undefined` or `'auto'` (the strongest available) or a mode name.
 * Throws a TypeError (not a string) or RangeError (no such mode) naming `option`.
 * @internal
 */
export function checkTreeKillOption(value: unknown, option: string): 'auto' | TreeKillMode {
  if (value === undefined || value === 'auto') return 'auto';
  if (typeof value !== 'string') throw new TypeError(`${option} must be a string, got ${typeof value}`);
  if (!TREE_KILL_MODES.includes(value as TreeKillMode)) {
    const known = TREE_KILL_MODES.map((mode) => `'${mode}'`).join(', ');
    throw new RangeError(`${option} must be 'auto', ${known}, got '${value}'`);
  }
  return value as TreeKillMode;
}

/**
 * The mode to use for a (checked) request: `'auto'` takes the strongest available; a named mode is
 * taken when it is available (the strongest one or any weaker one). Throws a RangeError naming
 * `option` and saying why when it is not.
 * @internal
 */
export function chooseTreeKill(
  requested: 'auto' | TreeKillMode,
  support: TreeKillSupport,
  option: string,
): TreeKillMode {
  if (requested === 'auto') return support.mode;
  if (TREE_KILL_MODES.indexOf(requested) < TREE_KILL_MODES.indexOf(support.mode)) {
    throw new RangeError(
      `${option} '${requested}' is not available here: ${support.unavailable[requested] ?? 'unsupported'}`,
    );
  }
  return requested;
}

/** The mode an executor uses, where its cgroups go, and why each stronger mode is not used. */
export interface ResolvedTreeKill {
  readonly mode: TreeKillMode;
  /** The host's own cgroup, where the executor's cgroups are created, in `'cgroup'` mode. */
  readonly cgroupDir: string | undefined;
  /** Why each mode stronger than `mode` is not used (including "`option` asks for ..."). */
  readonly unavailable: Readonly<Partial<Record<TreeKillMode, string>>>;
}

/**
 * Detects what this machine allows and chooses the mode for a (checked) request, as
 * {@link chooseTreeKill} does. Throws a RangeError naming `option` when the mode is not available.
 * @internal
 */
export function resolveTreeKill(requested: 'auto' | TreeKillMode, option: string): ResolvedTreeKill {
  const support = detectTreeKill();
  const mode = chooseTreeKill(requested, support, option);
  const unavailable: Partial<Record<TreeKillMode, string>> = { ...support.unavailable };
  if (mode !== support.mode) unavailable[support.mode] = `${option} asks for '${mode}'`;
  return { mode, cgroupDir: mode === 'cgroup' ? support.cgroupDir : undefined, unavailable };
}

/**
 * The fields an executor's start-up line gives its tree-kill mode: the mode, where its cgroups go
 * (`'cgroup'` mode), and why each stronger mode is not used (when one is not).
 * @internal
 */
export function treeKillLogFields(resolved: ResolvedTreeKill): Record<string, unknown> {
  return {
    treeKill: resolved.mode,
    ...(resolved.cgroupDir === undefined ? {} : { cgroupDir: resolved.cgroupDir }),
    ...(Object.keys(resolved.unavailable).length === 0 ? {} : { unavailable: resolved.unavailable }),
  };
}
