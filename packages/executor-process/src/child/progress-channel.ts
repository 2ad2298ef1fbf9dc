/**
 * `ctx.reportProgress` in the child: each report is checked and encoded at once, then written when
 * the control pipe takes it without queueing; while it does not, the latest report replaces the one
 * waiting. The last report is written before the task's outcome.
 * @internal
 * @module
 */
import { SerializationError } from '@taskwarden/sdk/internal';
import { encodeFrame } from '../protocol.js';
import { onceControlWritable, writeFrame, writeFrameIfFree } from './control-pipe.js';

/** How long after finding the pipe full a later report tries again. */
const RETRY_AFTER_MS = 5;

/** One task's progress reports. @internal */
export class ProgressChannel {
  readonly #id: number;
  readonly #maxMessageBytes: number;
  /** The latest report not written yet. */
  #pending: Buffer | undefined;
  #waiting = false;
  #closed = false;
  /** When a write last found the pipe full. */
  #blockedAt: number | undefined;

  constructor(id: number, maxMessageBytes: number) {
    this.#id = id;
    this.#maxMessageBytes = maxMessageBytes;
  }

  /**
   * Reports `value`. Throws a {@link SerializationError} (`what: 'message'`) when it cannot be
   * cloned or is larger than `maxMessageBytes`; ignored once the task has ended.
   */
  report(value: unknown): void {
    if (this.#closed) return;
    try {
      this.#pending = encodeFrame({ type: 'progress', id: this.#id, value }, this.#maxMessageBytes);
    } catch (error) {
      throw new SerializationError('message', { cause: error });
    }
    this.#flush();
  }

  /** The task has ended: writes the report still waiting (before the outcome) and takes no more. */
  close(): void {
    this.#closed = true;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending) writeFrame(pending);
  }

  #flush(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    // While the pipe is full, a report is not worth a write(2) of its own: retried once the socket
    // drains or a few ms later, and meanwhile by a report that comes after that (a task whose
    // JavaScript never yields still gets its reports through whenever the host has read the pipe).
    if (this.#blockedAt !== undefined && performance.now() - this.#blockedAt < RETRY_AFTER_MS) return;
    if (writeFrameIfFree(pending)) {
      this.#pending = undefined;
      this.#blockedAt = undefined;
      return;
    }
    this.#blockedAt = performance.now();
    if (this.#waiting) return;
    this.#waiting = true;
    onceControlWritable(() => {
      this.#waiting = false;
      this.#blockedAt = undefined;
      if (!this.#closed) this.#flush();
    });
  }
}
