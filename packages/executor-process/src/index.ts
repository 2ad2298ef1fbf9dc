/**
 * `@taskwarden/executor-process`: each task in a child Node process that leads its own process
 * group and session and, where the machine allows it, its own cgroup. Graceful cancel over the
 * control pipe, then SIGTERM, then SIGKILL to the child's whole tree; a watchdog thread in every
 * child kills the tree when the host dies (woken by a parent-death signal if the child is stopped),
 * so nothing is orphaned. What each tree-kill mode reaches, and what can escape it, is in the
 * README. `ctx.reportProgress` in a child reaches `task.progress`.
 *
 * @example
 * ```js
 * import { createRuntime } from '@taskwarden/sdk';
 * import { ProcessExecutor } from '@taskwarden/executor-process';
 *
 * const runtime = createRuntime({
 *   numberOfSlots: 1,
 *   executors: { process: new ProcessExecutor({ killGraceMs: 2_000 }) },
 *   cancellation: { gracePeriodMs: 5_000 },
 * });
 * runtime.slotTable.allocateSlot({ index: 0, jobId: 'job-1', allocationId: 'a-1' });
 * runtime.slotTable.markSlotActive('a-1');
 * const task = runtime.submit({
 *   jobId: 'job-1', allocationId: 'a-1',
 *   invokable: { module: new URL('./work.js', import.meta.url).href }, input: 21,
 * });
 * console.log((await task.done).result);
 * await runtime.close(); // no child process is left
 * ```
 * @module
 */
export type { SpawnFunction } from './child-process-handle.js';
export type { ProcessExitInfo } from './errors.js';
export { ProcessExitedError, ProcessSpawnError } from './errors.js';
export type { ProcessExecutorOptions, ProcessExecutorStats } from './process-executor.js';
export { ProcessExecutor } from './process-executor.js';
export type { KillFunction } from './process-group.js';
export type { TreeKillMode, TreeKillOption } from './tree-kill-plan.js';
