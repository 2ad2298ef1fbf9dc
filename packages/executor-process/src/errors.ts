/**
 * Errors of `@taskwarden/executor-process`. Both extend `TaskwardenError`, so `TaskwardenError.is`
 * and `instanceof` work across copies of the SDK.
 * @module
 */
import { ErrorCode, LaunchFailedError, nameErrorClass, TaskwardenError } from '@taskwarden/sdk';

/** What {@link ProcessExitedError} reports about the child. */
export interface ProcessExitInfo {
  readonly pid: number | undefined;
  /** The exit code, or null when a signal ended the child. */
  readonly exitCode: number | null;
  /** The signal that ended the child, or null when it exited by itself. */
  readonly signal: NodeJS.Signals | null;
  /** The last bytes (up to 4 KiB) the child wrote to stderr. */
  readonly stderrTail: string;
  /** True when the executor stopped the child (`kill()`, `close()`), false when it died by itself. */
  readonly killed: boolean;
}

/**
 * A child process ended without reporting a result: it crashed, exited, or was stopped hard by the
 * executor (`killed`). `result` of the execution rejects with it once the child and its whole
 * process group are gone.
 *
 * @example
 * ```ts
 * const outcome = await task.done;
 * if (outcome.error instanceof ProcessExitedError) console.error(outcome.error.exitCode, outcome.error.stderrTail);
 * ```
 */
export class ProcessExitedError extends TaskwardenError<typeof ErrorCode.PROCESS_EXITED> {
  static {
    nameErrorClass(ProcessExitedError, 'ProcessExitedError');
  }
  declare readonly name: 'ProcessExitedError';
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: string;
  readonly killed: boolean;

  constructor(info: ProcessExitInfo, options?: { cause?: unknown }) {
    const how = info.signal ? `was killed by ${info.signal}` : `exited with code ${info.exitCode}`;
    const who = info.killed ? 'stopped by the executor' : 'without a result';
    const lastLine = info.stderrTail.trimEnd().split('\n').pop()?.slice(0, 300);
    super(
      ErrorCode.PROCESS_EXITED,
      `child process ${info.pid ?? '?'} ${how} (${who})${lastLine ? `; stderr: ${lastLine}` : ''}`,
      options,
    );
    this.pid = info.pid;
    this.exitCode = info.exitCode;
    this.signal = info.signal;
    this.stderrTail = info.stderrTail;
    this.killed = info.killed;
  }
}

/**
 * A child process could not be started (`EAGAIN`, `ENOMEM`, `EMFILE`, ...): the task fails in
 * DEPLOYING. `errno` holds the system error code; `cause` the original error.
 */
export class ProcessSpawnError extends LaunchFailedError {
  static {
    nameErrorClass(ProcessSpawnError, 'ProcessSpawnError');
  }
  declare readonly name: 'ProcessSpawnError';
  /** The system error code (`EAGAIN`, `EMFILE`, ...), when there was one. */
  readonly errno: string | undefined;

  constructor(cause: unknown) {
    const errno = (cause as { code?: unknown } | null)?.code;
    const message = cause instanceof Error ? cause.message : String(cause);
    super(`cannot start a child process: ${message}`, { cause });
    this.errno = typeof errno === 'string' ? errno : undefined;
  }
}
