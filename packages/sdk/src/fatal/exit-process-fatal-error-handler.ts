import { spawn } from 'node:child_process';
import { describe } from '../errors.js';
import type { FatalErrorHandler } from '../interfaces/fatal-error-handler.js';
import type { Logger } from '../interfaces/logger.js';

/**
 * Exit code of a process ended by {@link ExitProcessFatalErrorHandler}: 70, `EX_SOFTWARE` of
 * sysexits(3) ("internal software error"), so supervisors can tell it from a crash.
 */
export const FATAL_EXIT_CODE = 70;

/**
 * How long {@link ExitProcessFatalErrorHandler} lets `process.exit()` take before the process is
 * killed with SIGKILL (1 000 ms).
 */
export const FATAL_EXIT_DEADLINE_MS = 1_000;

/** Options of {@link ExitProcessFatalErrorHandler}. */
export interface ExitProcessFatalErrorHandlerOptions {
  /**
   * Where to log the error at fatal level before exiting.
   * @default none: one line on stderr
   */
  logger?: Logger;
  /**
   * Exit code.
   * @default {@link FATAL_EXIT_CODE} (70)
   */
  exitCode?: number;
  /**
   * The exit function; tests replace it. With a custom exit function no SIGKILL deadline is armed.
   * @default `process.exit`, with a SIGKILL after {@link FATAL_EXIT_DEADLINE_MS} if it does not complete
   */
  exit?: (code: number) => void;
}

/**
 * The default {@link FatalErrorHandler}: logs the error at fatal level, flushes the logger
 * synchronously and exits the process with {@link FATAL_EXIT_CODE}, as Flink's TaskManager does when
 * a task cannot be cancelled. A restarted process is the only state in which stuck work is known to
 * be gone.
 *
 * `process.exit()` waits for every worker thread to stop, and a thread blocked in native code (a
 * synchronous read of a FIFO nobody writes, a native addon's loop) never does: the exit would hang
 * for ever, which is exactly the situation this handler exists for. So before exiting it arms a
 * deadline outside the process (a `/bin/sh` child that holds a pipe to it): if the process is still
 * alive {@link FATAL_EXIT_DEADLINE_MS} after the log was flushed, it is killed with SIGKILL (a
 * supervisor sees the signal instead of exit code 70). The child ends by itself as soon as the
 * process is gone. Where no shell can be started, the exit is attempted without the deadline.
 */
export class ExitProcessFatalErrorHandler implements FatalErrorHandler {
  readonly #logger: Logger | undefined;
  readonly #exitCode: number;
  readonly #exit: (code: number) => void;

  constructor(options: ExitProcessFatalErrorHandlerOptions = {}) {
    this.#logger = options.logger;
    this.#exitCode = options.exitCode ?? FATAL_EXIT_CODE;
    this.#exit = options.exit ?? defaultExit;
  }

  onFatalError(error: Error): void {
    try {
      if (this.#logger) {
        this.#logger.fatal({ err: error }, 'fatal error: exiting the process');
        this.#logger.flush();
      } else {
        process.stderr.write(`taskwarden: fatal error, exiting: ${stackOf(error)}\n`);
      }
    } catch {
      /* a logger that cannot log must not keep the process alive */
    } finally {
      if (this.#exit === defaultExit) armKillDeadline(FATAL_EXIT_DEADLINE_MS);
      this.#exit(this.#exitCode);
    }
  }
}

function stackOf(error: Error): string {
  try {
    const stack = error.stack;
    if (typeof stack === 'string') return stack;
  } catch {
    /* a hostile stack getter: the message will do */
  }
  return describe(error);
}

const defaultExit = (code: number): void => {
  process.exit(code);
};

// The shell waits for `sleep` and then SIGKILLs this process, while a reader blocks on the pipe from
// this process (on fd 3: a background list's stdin is /dev/null): EOF means this process is gone (the
// exit completed), and the reader kills the `sleep`, so the shell exits without the kill and nothing
// of the deadline outlives the process by more than a moment.
const KILLER_SCRIPT =
  'exec 3<&0; sleep "$2" & s=$!; ( read _ <&3; kill "$s" 2>/dev/null ) & if wait "$s"; then kill -9 "$1"; fi';

/** SIGKILLs this process after `ms` unless it has exited by then. Never throws. */
function armKillDeadline(ms: number): void {
  try {
    const child = spawn(
      '/bin/sh',
      ['-c', KILLER_SCRIPT, 'taskwarden-fatal-deadline', String(process.pid), String(ms / 1000)],
      {
        stdio: ['pipe', 'ignore', 'ignore'],
      },
    );
    child.on('error', () => undefined);
    child.stdin?.on('error', () => undefined);
    child.unref();
  } catch {
    /* no shell: the exit is attempted without a deadline */
  }
}
