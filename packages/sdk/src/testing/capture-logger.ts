import pino from 'pino';
import type { Logger } from '../interfaces/logger.js';

/** One log line written by a {@link captureLogger} logger, parsed. */
export interface CapturedLogLine {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

/**
 * A pino logger that keeps every line it writes, parsed, for assertions on what the runtime logs.
 *
 * @example
 * ```ts
 * const { logger, lines } = captureLogger('warn');
 * const runtime = createRuntime({ numberOfSlots: 1, executors, logger });
 * // ... cancel a deaf task, advance time ...
 * expect(lines.some((line) => line.msg?.startsWith('task did not react to cancelling'))).toBe(true);
 * ```
 */
export function captureLogger(level = 'info'): { logger: Logger; lines: CapturedLogLine[] } {
  const lines: CapturedLogLine[] = [];
  const logger = pino(
    { level },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as CapturedLogLine);
      },
    },
  );
  return { logger, lines };
}
