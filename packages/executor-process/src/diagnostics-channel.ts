/**
 * The host's end of a child's diagnostics pipe (the child's fd 4), served in the child by its
 * watchdog thread, so that a stack can be taken while the task's JavaScript is busy.
 * @internal
 * @module
 */

/** A reply line larger than this is garbage: dropped rather than buffered. */
const MAX_PENDING_CHARS = 1024 * 1024;

/** The writable side of the pipe, as far as the channel needs it. */
interface DiagnosticsPipe {
  write(line: string): unknown;
}

/**
 * Asks a child's watchdog thread for the main thread's JavaScript stack. Wire format: one JSON
 * object per line; request `{ "id": n }`, reply `{ "id": n, "stack" }` or `{ "id": n, "error" }`; a
 * host-lease renewal `{ "lease": deadline }` has no reply.
 * @internal
 */
export class DiagnosticsChannel {
  readonly #pipe: DiagnosticsPipe;
  readonly #waiters = new Map<number, (stack: string | undefined) => void>();
  #nextId = 1;
  #partial = '';

  constructor(pipe: DiagnosticsPipe) {
    this.#pipe = pipe;
  }

  /** The stack, or undefined when the child does not answer within `timeoutMs`. */
  requestStack(timeoutMs: number): Promise<string | undefined> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        resolve(undefined);
      }, timeoutMs);
      timer.unref();
      this.#waiters.set(id, (stack) => {
        clearTimeout(timer);
        resolve(stack);
      });
      this.#pipe.write(`${JSON.stringify({ id })}\n`);
    });
  }

  /** Moves the child's host-lease deadline (monotonic ms); the watchdog does not answer. */
  renewLease(deadlineMs: number): void {
    this.#pipe.write(`${JSON.stringify({ lease: deadlineMs })}\n`);
  }

  /** Bytes the child wrote on the pipe. */
  receive(chunk: Buffer): void {
    this.#partial += chunk.toString('utf8');
    if (this.#partial.length > MAX_PENDING_CHARS) this.#partial = '';
    let newline = this.#partial.indexOf('\n');
    while (newline !== -1) {
      const line = this.#partial.slice(0, newline);
      this.#partial = this.#partial.slice(newline + 1);
      newline = this.#partial.indexOf('\n');
      this.#answer(line);
    }
  }

  /** The child is gone: every pending request gets no stack. */
  close(): void {
    for (const waiter of this.#waiters.values()) waiter(undefined);
    this.#waiters.clear();
  }

  #answer(line: string): void {
    let reply: { id?: unknown; stack?: unknown; error?: unknown };
    try {
      reply = JSON.parse(line) as typeof reply;
    } catch {
      return;
    }
    if (typeof reply !== 'object' || reply === null || typeof reply.id !== 'number') return;
    const waiter = this.#waiters.get(reply.id);
    if (!waiter) return;
    this.#waiters.delete(reply.id);
    waiter(
      typeof reply.stack === 'string'
        ? reply.stack
        : `diagnostics unavailable: ${typeof reply.error === 'string' ? reply.error : 'no stack'}`,
    );
  }
}
