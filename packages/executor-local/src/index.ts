/**
 * Executors that run tasks in the host process: {@link InlineExecutor} on the event loop (cooperative
 * cancellation only) and {@link WorkerExecutor} in a pool of worker threads (hard stop by terminating
 * the thread), plus {@link LoopBlockWatchdog}, which guards inline users against a blocked loop.
 *
 * @example
 * ```js
 * import { createRuntime } from '@taskwarden/sdk';
 * import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
 *
 * const runtime = createRuntime({
 *   numberOfSlots: 4,
 *   executors: { inline: new InlineExecutor(), worker: new WorkerExecutor({ maxThreads: 4 }) },
 *   defaultExecutor: 'worker',
 * });
 * ```
 * @module
 */

export { WorkerExitedError, WorkerStartError } from './errors.js';
export { InlineExecutor } from './inline/inline-executor.js';
export type { LoopBlockWatchdogOptions } from './loop-block-watchdog/loop-block-watchdog.js';
export { LoopBlockWatchdog } from './loop-block-watchdog/loop-block-watchdog.js';
export type { TreeKillMode, TreeKillOption } from './worker/process-tree/tree-kill-setup.js';
export { WORKER_HARD_STOP_MS, WorkerExecutor } from './worker/worker-executor.js';
export type { WorkerExecutorOptions } from './worker/worker-executor-options.js';
export type { WorkerPoolStats } from './worker/worker-pool.js';
