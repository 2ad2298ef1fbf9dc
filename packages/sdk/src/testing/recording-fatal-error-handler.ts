import type { FatalErrorHandler } from '../interfaces/fatal-error-handler.js';

/**
 * A {@link FatalErrorHandler} that records calls and lets a test await the next one.
 *
 * @example
 * ```ts
 * const fatal = new RecordingFatalErrorHandler();
 * const error = await fatal.next();
 * expect(error).toBeInstanceOf(CancellationTimeoutError);
 * ```
 */
export class RecordingFatalErrorHandler implements FatalErrorHandler {
  readonly errors: Error[] = [];
  #waiters: Array<(error: Error) => void> = [];

  onFatalError(error: Error): void {
    this.errors.push(error);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve(error);
  }

  /** Resolves with the next fatal error. */
  next(): Promise<Error> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
