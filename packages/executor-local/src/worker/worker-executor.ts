import type { Execution, Executor, ExecutorCapabilities, LaunchSpec, Logger } from '@taskwarden/sdk';
import type { TreeKillMode } from '@taskwarden/sdk/internal';
import { logSafely, treeKillLogFields } from '@taskwarden/sdk/internal';
import { TREE_KILL_BOUND_MS } from './process-tree/spawned-process-tree.js';
import { TreeKillSetup } from './process-tree/tree-kill-setup.js';
import type { WorkerExecutorOptions } from './worker-executor-options.js';
import { resolveWorkerExecutorOptions } from './worker-executor-options.js';
import type { WorkerPoolStats } from './worker-pool.js';
import { WorkerPool } from './worker-pool.js';

/**
 * How long a hard stop of a {@link WorkerExecutor} task may take, from `kill()` to its outcome
 * (`capabilities.hardStopMs`): the kill of the processes the thread spawned, bounded at
 * {@link TREE_KILL_BOUND_MS}, and 500 ms for the terminated thread to exit, which takes a few
 * milliseconds for JavaScript (a loop, `Atomics.wait`, awaiting anything) and for a thread blocked
 * in a `*Sync` call of a process it spawned (that process is killed). A thread blocked in other
 * native code (a synchronous read of a FIFO nobody writes, a native addon) exits only when that
 * call returns: its task has no outcome until then, and the runtime's watchdog gives it up at
 * `timeoutMs` (fatal escalation).
 */
export const WORKER_HARD_STOP_MS = TREE_KILL_BOUND_MS + 500;

/**
 * Runs each task in a worker thread of its own pool, and stops work that ignores cancellation by
 * terminating its thread.
 *
 * - Invokables are `{ module, export? }` references (absolute path, `file:` URL or package
 *   specifier), imported inside the worker and cached per module and thread. The export may be an
 *   invokable object, a class with `invoke`, or a function.
 * - Inputs and results cross by structured clone. An input that cannot be cloned fails the task
 *   with `SerializationError` (`what: 'input'`), a result with `SerializationError` (`what:
 *   'result'`). Errors thrown in the worker arrive as Errors with name, message, stack, `code` and
 *   their other own fields.
 * - At most `maxThreads` threads; further tasks wait in DEPLOYING, first come first served, and a
 *   waiting task that is cancelled is dropped without being invoked.
 * - Cancel: the task's `AbortSignal` is aborted inside the worker and its `cancel()` hook called.
 *   Hard stop (after `gracePeriodMs`; with `0`, in the same call): `worker.terminate()`, and SIGKILL
 *   to the processes the thread's tasks spawned and their descendants, as far as the tree-kill
 *   mode reaches (see {@link WorkerExecutor.treeKill}); the thread counts against `maxThreads`
 *   until it has really exited, then
 *   the next waiting task gets a fresh thread. The task ends CANCELED, and its `done` resolves only
 *   once the thread has exited and those processes are gone: within {@link WORKER_HARD_STOP_MS}
 *   unless the thread is blocked in native code of its own (then only when that call returns).
 * - Processes a task spawns are stopped with its thread whenever it ends (hard stop, crash, idle
 *   timeout, `close()`), and by a sentinel process when the host dies.
 * - `ctx.reportProgress(value)` reaches the runtime, coalesced (one report in flight per task).
 * - A thread that dies (uncaught exception, `process.exit()`, heap exhaustion under
 *   `resourceLimits`) fails only its own task, with `WorkerExitedError`; the pool replaces it.
 * - `diagnose()` returns the JavaScript stack of the task's thread, read through the inspector;
 *   the cancellation ladder puts it in its "stuck in" warning.
 *
 * @example
 * ```js
 * import { createRuntime } from '@taskwarden/sdk';
 * import { WorkerExecutor } from '@taskwarden/executor-local';
 *
 * const runtime = createRuntime({
 *   numberOfSlots: 4,
 *   executors: { worker: new WorkerExecutor({ maxThreads: 4, resourceLimits: { maxOldGenerationSizeMb: 256 } }) },
 * });
 * runtime.slotTable.allocateSlot({ index: 0, jobId: 'job-1', allocationId: 'a-1' });
 * runtime.slotTable.markSlotActive('a-1');
 * const task = runtime.submit({
 *   jobId: 'job-1',
 *   allocationId: 'a-1',
 *   invokable: { module: new URL('./resize.js', import.meta.url).href },
 *   input: { file: 'cat.png' },
 * });
 * console.log(await task.done);
 * await runtime.close(); // closes the executor: every thread has exited when it resolves
 * ```
 */
export class WorkerExecutor implements Executor {
  readonly name = 'worker';
  readonly capabilities: ExecutorCapabilities = Object.freeze({
    hardStop: true,
    diagnostics: true,
    isolation: 'thread',
    hardStopMs: WORKER_HARD_STOP_MS,
  });
  /**
   * How the processes worker tasks spawn, and their descendants, are found and killed, detected at
   * start (or forced by the `treeKill` option): `'cgroup'` (a cgroup v2 per thread, which every
   * spawn joins before it runs; killed with `cgroup.kill`), `'cookie'` (each spawn's process group
   * and session, plus every process carrying the thread's environment cookie) or `'process-group'`
   * (each spawn's group only).
   */
  readonly treeKill: TreeKillMode;
  readonly #pool: WorkerPool;
  /** The start-up line, until it is logged (on the first task's logger when there is no executor logger). */
  #startupLine: { fields: object; message: string } | undefined;

  /**
   * @throws TypeError or RangeError naming the option at fault (a `treeKill` mode this machine does
   * not offer is a RangeError saying why).
   */
  constructor(options?: WorkerExecutorOptions) {
    const resolved = resolveWorkerExecutorOptions(options);
    const treeKill = new TreeKillSetup(resolved.treeKill, 'treeKill');
    this.treeKill = treeKill.mode;
    this.#pool = new WorkerPool(resolved, treeKill);
    this.#startupLine = {
      fields: treeKillLogFields(treeKill),
      message: `worker executor: killing the process trees tasks spawn by ${treeKill.mode}`,
    };
    if (resolved.logger) this.#logStartup(resolved.logger);
  }

  /**
   * Live worker threads, including threads that were terminated and have not exited yet; 0 once
   * `close()` has resolved.
   */
  get threadCount(): number {
    return this.#pool.threadCount;
  }

  /** Threads by state and the number of tasks waiting for one. */
  get stats(): WorkerPoolStats {
    return this.#pool.stats;
  }

  /**
   * Starts the task on an idle thread, a new thread if the pool has room, or queues it.
   * @throws InvalidInvokableError for anything but a module reference; SerializationError when
   * the input cannot be cloned (the task fails in DEPLOYING); ExecutorClosedError after `close()`.
   */
  launch(spec: LaunchSpec): Execution {
    if (this.#startupLine) this.#logStartup(spec.logger);
    return this.#pool.launch(spec);
  }

  /** Drops the waiting tasks of the job without invoking them. */
  async cancelJob(jobId: string): Promise<void> {
    this.#pool.cancelJob(jobId);
  }

  /**
   * Refuses new work, fails waiting tasks with `ExecutorClosedError`, terminates every thread and
   * resolves once all of them have exited and the processes their tasks spawned are gone. A thread
   * blocked in a native call that ignores termination keeps `close()` waiting: it really has not
   * exited.
   */
  close(): Promise<void> {
    return this.#pool.close();
  }

  #logStartup(logger: Logger): void {
    const line = this.#startupLine;
    this.#startupLine = undefined;
    if (line) logSafely(logger, 'info', line.fields, line.message);
  }
}
