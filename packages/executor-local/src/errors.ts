/**
 * Errors of `@taskwarden/executor-local`. Every class extends `TaskwardenError` from
 * `@taskwarden/sdk`, so `TaskwardenError.is(error)` and `error.code` work on them too.
 * @module
 */
import type { TaskwardenErrorOptions } from '@taskwarden/sdk';
import { ErrorCode, LaunchFailedError, nameErrorClass, TaskwardenError } from '@taskwarden/sdk';

/**
 * A worker thread exited while it ran a task: an uncaught exception, `process.exit()` inside the
 * worker, or heap exhaustion under `resourceLimits`. Only that task fails; the pool replaces the
 * thread. `cause` is the worker's `'error'` event (the uncaught exception), when there was one.
 *
 * @example
 * ```ts
 * const outcome = await task.done;
 * if (outcome.error instanceof WorkerExitedError) console.log('worker died with', outcome.error.exitCode);
 * ```
 */
export class WorkerExitedError extends TaskwardenError<typeof ErrorCode.WORKER_EXITED> {
  static {
    nameErrorClass(WorkerExitedError, 'WorkerExitedError');
  }
  declare readonly name: 'WorkerExitedError';
  /** The thread's exit code (`process.exit(n)` → n; an uncaught exception or out-of-memory → 1). */
  readonly exitCode: number;
  /** The task that was running, if any. */
  readonly executionId: string | undefined;

  constructor(ctx: { exitCode: number; executionId?: string | undefined }, options?: TaskwardenErrorOptions) {
    const cause = options?.cause;
    const why = cause instanceof Error ? `: ${cause.message}` : '';
    super(
      ErrorCode.WORKER_EXITED,
      `worker thread exited with code ${ctx.exitCode}` +
        (ctx.executionId === undefined ? '' : ` while running task ${ctx.executionId}`) +
        why,
      options,
    );
    this.exitCode = ctx.exitCode;
    this.executionId = ctx.executionId;
  }
}

/**
 * A worker thread could not be started (`new Worker()` threw: out of memory, too many threads), so
 * the task fails in DEPLOYING. `cause` is what `new Worker()` threw.
 */
export class WorkerStartError extends LaunchFailedError {
  static {
    nameErrorClass(WorkerStartError, 'WorkerStartError');
  }
  declare readonly name: 'WorkerStartError';

  constructor(cause: unknown) {
    super(`cannot start a worker thread: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}
