/**
 * Killing whole process trees, shared by the executors that start processes: the tree-kill modes
 * and their detection, cgroup v2 trees, the environment cookie and the /proc scans that find a
 * tree's members, and the sequence a tree's root runs when its creator is gone.
 * @internal
 * @module
 */
export {
  CGROUP_PREFIX,
  cgroupMembers,
  createCgroup,
  isCgroupPopulated,
  killCgroup,
  ownCgroupDir,
  placeInCgroup,
  probeCgroupDir,
  removeCgroup,
  startCgroupRemover,
  sweepStaleCgroups,
} from './cgroup.js';
export type { ExecSpec } from './cgroup-exec.js';
export { CGROUP_EXEC_REFUSED, CGROUP_EXEC_SHELL, cgroupExec, cgroupExecProblem } from './cgroup-exec.js';
export type { OwnTree } from './kill-own-tree.js';
export { killOwnTree } from './kill-own-tree.js';
export type { ProcFs, ProcFsSync, ProcStat, TreeIdentity, TreeScan } from './proc-table.js';
export {
  bornAfterTicks,
  errnoOf,
  isLiveState,
  parseStat,
  procFs,
  procFsSync,
  scanTree,
  scanTreeSync,
} from './proc-table.js';
export type { ProcessTreeOptions, SignalFunction } from './process-tree.js';
export { ProcessTree } from './process-tree.js';
export {
  environHasCookie,
  newTreeCookie,
  TREE_COOKIE_ENV,
  withTreeCookie,
  withTreeCookiePairs,
} from './tree-cookie.js';
export type { ResolvedTreeKill, TreeKillMode, TreeKillSupport } from './tree-kill-mode.js';
export {
  checkTreeKillOption,
  chooseTreeKill,
  detectTreeKill,
  resolveTreeKill,
  TREE_KILL_MODES,
  treeKillLogFields,
} from './tree-kill-mode.js';
