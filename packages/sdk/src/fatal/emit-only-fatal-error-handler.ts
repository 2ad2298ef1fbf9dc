import type { FatalErrorHandler } from '../interfaces/fatal-error-handler.js';

/**
 * A {@link FatalErrorHandler} that only records the error: for embedders that watch
 * `runtime.events.on('fatalError')` or `runtime.health` and restart the runtime themselves.
 *
 * @example
 * ```ts
 * const handler = new EmitOnlyFatalErrorHandler();
 * const runtime = createRuntime({ numberOfSlots: 1, executors, fatalErrorHandler: handler });
 * runtime.events.on('fatalError', ({ error }) => scheduleRestart(error));
 * ```
 */
export class EmitOnlyFatalErrorHandler implements FatalErrorHandler {
  readonly #errors: Error[] = [];

  /** Every error reported so far, oldest first. */
  get errors(): readonly Error[] {
    return this.#errors;
  }

  onFatalError(error: Error): void {
    this.#errors.push(error);
  }
}
