/**
 * A task's cancellation flag whose `AbortSignal` is only created when someone reads it.
 *
 * Node's AbortController is costly to create and to collect (it was half the cost of a no-op inline
 * task); most tasks never look at their signal, so the flag is plain state until they do.
 * @internal
 */
export class LazyAbort {
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** The signal, created on first access (already aborted if the task was cancelled before). */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Aborts once; later calls are ignored. Returns whether this call aborted. */
  abort(reason: unknown): boolean {
    if (this.#aborted) return false;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    return true;
  }
}
