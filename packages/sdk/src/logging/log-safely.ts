import type { Logger } from '../interfaces/logger.js';

/** The levels taskwarden logs at. @internal */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * Logs without ever throwing. The fields often carry values from user code (an error whose
 * `message` getter throws, a Proxy, a circular object with a throwing `toJSON`), and a log line must
 * never stop a task from ending: when the logger throws, the line is written once more without the
 * fields, and if that throws too it is dropped.
 * @internal
 */
export function logSafely(
  logger: Logger,
  level: LogLevel,
  fields: object | undefined,
  message: string,
): void {
  try {
    if (fields === undefined) logger[level](message);
    else logger[level](fields, message);
  } catch {
    try {
      logger[level](`${message} (its fields could not be logged)`);
    } catch {
      /* a logger that cannot log at all must not break the caller */
    }
  }
}
