/**
 * Bounded buffering of a child's stdout and stderr.
 * @internal
 * @module
 */
import { StringDecoder } from 'node:string_decoder';

/**
 * Splits a child's output stream into lines with a bound on what it buffers: a line longer than
 * `maxLineBytes` is emitted cut, with a marker, and the rest of it up to the next newline is
 * dropped, so a child that never writes a newline cannot grow the host's memory.
 * @internal
 */
export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  readonly #maxLineBytes: number;
  readonly #onLine: (line: string) => void;
  #partial = '';
  /** Characters of the current overlong line that were dropped. */
  #dropped = 0;

  constructor(maxLineBytes: number, onLine: (line: string) => void) {
    this.#maxLineBytes = maxLineBytes;
    this.#onLine = onLine;
  }

  push(chunk: Buffer): void {
    this.#consume(this.#decoder.write(chunk));
  }

  /** Emits what is left (a last line without a newline). */
  end(): void {
    this.#consume(this.#decoder.end());
    if (this.#partial.length > 0 || this.#dropped > 0) this.#emit(this.#partial);
    this.#partial = '';
    this.#dropped = 0;
  }

  #consume(text: string): void {
    let start = 0;
    let newline = text.indexOf('\n', start);
    while (newline !== -1) {
      this.#append(text, start, newline);
      this.#emit(this.#partial);
      this.#partial = '';
      this.#dropped = 0;
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    if (start < text.length) this.#append(text, start, text.length);
  }

  /** Adds `text[from, to)` to the current line, keeping at most `maxLineBytes` of it. */
  #append(text: string, from: number, to: number): void {
    // Characters, not bytes: a cheap bound that is at most 4x loose for non-ASCII text.
    const room = this.#maxLineBytes - this.#partial.length;
    const length = to - from;
    if (length <= room) {
      this.#partial += text.slice(from, to);
      return;
    }
    if (room > 0) this.#partial += text.slice(from, from + room);
    this.#dropped += length - Math.max(room, 0);
  }

  #emit(line: string): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    this.#onLine(this.#dropped > 0 ? `${text} [… ${this.#dropped} more characters cut]` : text);
  }
}

/** Keeps the last `maxBytes` bytes written to a stream (for `ProcessExitedError.stderrTail`). @internal */
export class TailBuffer {
  readonly #maxBytes: number;
  #chunks: Buffer[] = [];
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length >= this.#maxBytes) {
      this.#chunks = [Buffer.from(chunk.subarray(chunk.length - this.#maxBytes))];
      this.#bytes = this.#maxBytes;
      return;
    }
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    while (this.#chunks.length > 1 && this.#bytes - (this.#chunks[0]?.length ?? 0) >= this.#maxBytes) {
      this.#bytes -= this.#chunks.shift()?.length ?? 0;
    }
  }

  toString(): string {
    const all = Buffer.concat(this.#chunks);
    const tail = all.length > this.#maxBytes ? all.subarray(all.length - this.#maxBytes) : all;
    // Cutting may split a UTF-8 sequence at the front; the replacement character is fine there.
    return tail.toString('utf8');
  }
}
