import type { RuntimeEventEmitter, RuntimeEvents } from '../interfaces/events.js';
import type { Logger } from '../interfaces/logger.js';
import { logSafely } from '../logging/log-safely.js';

/**
 * Emits an event; a listener that throws is logged, not propagated, because the emit sits inside a
 * state transition that must complete. The remaining listeners of that emit are skipped, as with any
 * EventEmitter. @internal
 */
export function emitSafely<TName extends keyof RuntimeEvents>(
  events: RuntimeEventEmitter,
  name: TName,
  logger: Logger,
  ...args: Parameters<RuntimeEvents[TName]>
): void {
  try {
    // eventemitter3's typing of rest arguments needs the cast; the names and payloads are checked above.
    (events.emit as (event: TName, ...rest: unknown[]) => boolean)(name, ...args);
  } catch (error) {
    logSafely(logger, 'error', { err: error, event: name }, 'an event listener threw');
  }
}
