/**
 * Called when the runtime can no longer guarantee that work stops: a cancellation that did not end
 * within its timeout, or a cancellation ladder that could not be armed. Called synchronously.
 *
 * The default, `ExitProcessFatalErrorHandler`, exits the process; embedders that restart the
 * runtime themselves pass `EmitOnlyFatalErrorHandler` or their own.
 */
export interface FatalErrorHandler {
  /**
   * Called synchronously, once per abandoned task, before the task is settled FAILED with
   * `abandoned: true`. What it throws is logged; the task still ends.
   */
  onFatalError(error: Error): void;
}

/** DI token of the {@link FatalErrorHandler}. */
export const FatalErrorHandlerToken: unique symbol = Symbol.for('@taskwarden/sdk:FatalErrorHandler');
