import type { FatalErrorHandler } from '../interfaces/fatal-error-handler.js';
import type { Logger } from '../interfaces/logger.js';

/**
 * Exit code of a process ended by {@link ExitProcessFatalErrorHandler}: 70, `EX_SOFTWARE` of
 * sysexits(3) ("internal software error"), so supervisors can tell it from a crash.
 */
export const FATAL_EXIT_CODE = 70;

/** Options of {@link ExitProcessFatalErrorHandler}. */
export interface ExitProcessFatalErrorHandlerOptions {
  /** Where to log the error at fatal level before exiting. */
  logger?: Logger;
  /** Exit code; default {@link FATAL_EXIT_CODE}. */
  exitCode?: number;
  /** The exit function; tests replace it. Default `process.exit`. */
  exit?: (code: number) => void;
}

/**
 * The default {@link FatalErrorHandler}: logs the error at fatal level, flushes the logger
 * synchronously and exits the process with {@link FATAL_EXIT_CODE}, as Flink's TaskManager does when
 * a task cannot be cancelled. A restarted process is the only state in which stuck work is known to
 * be gone.
 */
export class ExitProcessFatalErrorHandler implements FatalErrorHandler {
  readonly #logger: Logger | undefined;
  readonly #exitCode: number;
  readonly #exit: (code: number) => void;

  constructor(options: ExitProcessFatalErrorHandlerOptions = {}) {
    this.#logger = options.logger;
    this.#exitCode = options.exitCode ?? FATAL_EXIT_CODE;
    this.#exit = options.exit ?? ((code) => process.exit(code));
  }

  onFatalError(error: Error): void {
    try {
      if (this.#logger) {
        this.#logger.fatal({ err: error }, 'fatal error: exiting the process');
        this.#logger.flush();
      } else {
        process.stderr.write(`taskwarden: fatal error, exiting: ${error.stack ?? error.message}\n`);
      }
    } finally {
      this.#exit(this.#exitCode);
    }
  }
}
