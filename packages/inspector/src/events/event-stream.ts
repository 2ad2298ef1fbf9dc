import type { ServerResponse } from 'node:http';

/**
 * One client of `GET /api/events`. Writes never wait: a client that has more than `maxQueuedBytes`
 * waiting when the next message is due is disconnected, so a stalled reader costs at most that much
 * memory plus one message. @internal
 */
export class EventStream {
  readonly #response: ServerResponse;
  readonly #maxQueuedBytes: number;
  readonly #onDrop: () => void;
  #open = true;

  constructor(response: ServerResponse, maxQueuedBytes: number, onDrop: () => void) {
    this.#response = response;
    this.#maxQueuedBytes = maxQueuedBytes;
    this.#onDrop = onDrop;
  }

  /** Whether the stream still takes messages. */
  get open(): boolean {
    return this.#open && !this.#response.destroyed;
  }

  /** Bytes written but not yet handed to the operating system. */
  get queuedBytes(): number {
    return this.#open ? this.#response.writableLength : 0;
  }

  /** Sends `chunk` (one or more complete SSE messages), or drops a client that is too far behind. */
  send(chunk: string): void {
    if (!this.open) return;
    if (this.#response.writableLength > this.#maxQueuedBytes) {
      this.#open = false;
      this.#onDrop();
      // Not end(): a graceful end would wait behind the very bytes the client is not reading.
      this.#response.destroy();
      return;
    }
    this.#response.write(chunk);
  }

  /** Ends the stream (the inspector is closing). */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#response.destroy();
  }

  /** Marks the stream closed after the client went away. */
  closed(): void {
    this.#open = false;
  }
}

/** One SSE message. `data` is JSON, which never holds a raw line break, so one `data:` line suffices. */
export function sseMessage(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
