/**
 * cgroup v2 trees: one cgroup per process tree, so the kernel tracks every descendant whatever
 * process group or session it moves to, and kills them all at once through `cgroup.kill` (what
 * systemd's `KillMode=control-group` does). Needs Linux 5.14 or later and a cgroup the caller may
 * create children in (root, or a delegated subtree).
 * @internal
 * @module
 */
import {
  accessSync,
  constants,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { errnoOf } from './proc-table.js';

/** The prefix of every cgroup this machinery creates: `taskwarden-<creator pid>-...`. @internal */
export const CGROUP_PREFIX = 'taskwarden-';

/** Reads a file as text; replaceable in tests. */
type ReadText = (path: string) => string;

const readText: ReadText = (path) => readFileSync(path, 'utf8');

/** Undoes the octal escapes of /proc/self/mountinfo (a space is `\040`). */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * The directory of this process's own cgroup in the cgroup v2 hierarchy, found from
 * /proc/self/mountinfo (where cgroup2 is mounted: `/sys/fs/cgroup` on a unified host,
 * `/sys/fs/cgroup/unified` on a hybrid one, anywhere in a container) and /proc/self/cgroup (the
 * `0::<path>` line). Returns a string saying why when there is none.
 * @internal
 */
export function ownCgroupDir(
  read: ReadText = readText,
): { readonly dir: string } | { readonly unavailable: string } {
  let mountinfo: string;
  let membership: string;
  try {
    mountinfo = read('/proc/self/mountinfo');
    membership = read('/proc/self/cgroup');
  } catch (error) {
    return { unavailable: `cannot read /proc/self (${String(errnoOf(error) ?? error)})` };
  }
  const line = membership.split('\n').find((entry) => entry.startsWith('0::'));
  if (line === undefined)
    return { unavailable: 'this process is in no cgroup v2 (no "0::" line in /proc/self/cgroup)' };
  const path = line.slice(3);
  for (const mount of mountinfo.split('\n')) {
    // "id parent major:minor root mount-point options [optional fields] - fstype source super-options"
    const separator = mount.indexOf(' - ');
    if (separator === -1 || mount.slice(separator + 3).split(' ', 1)[0] !== 'cgroup2') continue;
    const fields = mount.slice(0, separator).split(' ');
    const root = unescapeMountPath(fields[3] ?? '');
    const mountPoint = unescapeMountPath(fields[4] ?? '');
    if (root === '/' || path === root || path.startsWith(`${root}/`)) {
      const relative = root === '/' ? path : path.slice(root.length);
      return { dir: relative === '/' || relative === '' ? mountPoint : join(mountPoint, relative) };
    }
  }
  return { unavailable: 'cgroup2 is not mounted where this process can see its cgroup' };
}

/**
 * Whether new trees can get cgroups under `dir`: a probe cgroup is created and removed, it must
 * offer `cgroup.kill` (Linux 5.14+), and `dir/cgroup.procs` must be writable (moving a process
 * between `dir` and a child of it needs that). Returns why not, or undefined when it can.
 * @internal
 */
export function probeCgroupDir(dir: string): string | undefined {
  const probe = join(dir, `${CGROUP_PREFIX}${process.pid}-probe-${Math.random().toString(36).slice(2, 8)}`);
  try {
    mkdirSync(probe);
  } catch (error) {
    return `cannot create a cgroup in ${dir} (${String(errnoOf(error) ?? error)})`;
  }
  try {
    accessSync(join(probe, 'cgroup.kill'), constants.W_OK);
    accessSync(join(dir, 'cgroup.procs'), constants.W_OK);
    return undefined;
  } catch (error) {
    return errnoOf(error) === 'ENOENT'
      ? 'the kernel has no cgroup.kill (Linux 5.14 or later needed)'
      : `cannot move processes in ${dir} (${String(errnoOf(error) ?? error)})`;
  } finally {
    try {
      rmdirSync(probe);
    } catch {
      /* a probe that cannot be removed is swept with the stale ones */
    }
  }
}

/** Creates the cgroup `dir/name` and returns its path. Throws what mkdir throws. @internal */
export function createCgroup(dir: string, name: string): string {
  const path = join(dir, name);
  mkdirSync(path);
  return path;
}

/**
 * Moves process `pid` (all its threads) into the cgroup. Asynchronous because the kernel may take a
 * millisecond or so (it waits for an RCU grace period), which the caller's event loop need not wait
 * out. Rejects with what the write throws (ESRCH: the process is gone).
 * @internal
 */
export function placeInCgroup(cgroup: string, pid: number): Promise<void> {
  return writeFile(join(cgroup, 'cgroup.procs'), String(pid));
}

/**
 * SIGKILLs every process of the cgroup and of its descendant cgroups at once: a process forking
 * meanwhile cannot slip through. Throws what the write throws.
 * @internal
 */
export function killCgroup(cgroup: string): void {
  writeFileSync(join(cgroup, 'cgroup.kill'), '1');
}

/** The child cgroups of `cgroup` (directories: interface files are plain files). */
function childCgroups(cgroup: string): string[] {
  try {
    return readdirSync(cgroup, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(cgroup, entry.name));
  } catch {
    return [];
  }
}

/**
 * The processes of the cgroup and its descendant cgroups, read now; a process may join or leave
 * right after. Empty when the cgroup is gone.
 * @internal
 */
export function cgroupMembers(cgroup: string): number[] {
  const pids: number[] = [];
  try {
    for (const line of readFileSync(join(cgroup, 'cgroup.procs'), 'latin1').split('\n')) {
      if (line.length > 0) pids.push(Number(line));
    }
  } catch {
    return pids;
  }
  for (const child of childCgroups(cgroup)) pids.push(...cgroupMembers(child));
  return pids;
}

/**
 * Whether a live process is left in the cgroup or below it (`populated 1` in `cgroup.events`;
 * zombies do not count). False when the cgroup is gone; true when it cannot be read for another
 * reason (cannot tell counts as populated).
 * @internal
 */
export function isCgroupPopulated(cgroup: string): boolean {
  let events: string;
  try {
    events = readFileSync(join(cgroup, 'cgroup.events'), 'latin1');
  } catch (error) {
    return errnoOf(error) !== 'ENOENT';
  }
  return !events.includes('populated 0');
}

/**
 * Removes the cgroup and any cgroups created below it, deepest first. Returns true when it is gone
 * (or was already), false when it cannot be removed yet (a process is left: EBUSY).
 * @internal
 */
export function removeCgroup(cgroup: string): boolean {
  for (const child of childCgroups(cgroup)) removeCgroup(child);
  try {
    rmdirSync(cgroup);
    return true;
  } catch (error) {
    return errnoOf(error) === 'ENOENT';
  }
}

/**
 * A tiny Node program that waits until the cgroup named in `argv[1]` has no live process left, then
 * removes it (deepest first); it gives up after 10 s.
 */
const REMOVER = `
const fs = require('node:fs');
const path = require('node:path');
const cgroup = process.argv[1];
const deadline = Date.now() + 10000;
const remove = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) remove(path.join(dir, entry.name));
  }
  fs.rmdirSync(dir);
};
const poll = () => {
  try {
    if (fs.readFileSync(path.join(cgroup, 'cgroup.events'), 'latin1').includes('populated 0')) return remove(cgroup);
  } catch (error) {
    if (error.code === 'ENOENT') return;
  }
  if (Date.now() < deadline) setTimeout(poll, 5);
};
poll();
`;

/**
 * For a process inside `cgroup` that is about to kill it (`killCgroup` kills the caller too): starts
 * a remover process outside of it, in `parent`, that removes the cgroup once it is empty. The
 * remover is this process's own child, moved out of the cgroup before the kill; it takes no part in
 * the tree (own session, empty environment) and exits within 10 s. Returns false when it could not
 * be started or moved (the cgroup is then left for {@link sweepStaleCgroups}); never throws.
 * @internal
 */
export function startCgroupRemover(cgroup: string, parent: string): boolean {
  let pid: number | undefined;
  try {
    // Loaded here, not imported: this module is part of every fresh child, which must not pay for
    // `node:child_process` (and the `node:net` it loads) before its task runs.
    const { spawn } = createRequire(process.execPath)(
      'node:child_process',
    ) as typeof import('node:child_process');
    const remover = spawn(process.execPath, ['-e', REMOVER, cgroup], {
      detached: true,
      stdio: 'ignore',
      env: {},
    });
    remover.on('error', () => undefined);
    remover.unref();
    pid = remover.pid;
    if (pid === undefined) return false;
    writeFileSync(join(parent, 'cgroup.procs'), String(pid));
    return true;
  } catch {
    // Still inside the cgroup: it dies with it.
    return false;
  }
}

/**
 * Removes the empty cgroups under `dir` that a process which no longer exists created
 * (`taskwarden-<pid>-...`: its host was killed along with every process of its trees before anyone
 * could remove them). Never kills anything, never throws; returns how many it removed.
 * @internal
 */
export function sweepStaleCgroups(dir: string): number {
  let removed = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const match = /^taskwarden-(\d+)-/.exec(name);
    if (!match) continue;
    const owner = Number(match[1]);
    if (owner === process.pid || isRunning(owner)) continue;
    const cgroup = join(dir, name);
    if (!isCgroupPopulated(cgroup) && removeCgroup(cgroup)) removed += 1;
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) !== 'ESRCH';
  }
}
