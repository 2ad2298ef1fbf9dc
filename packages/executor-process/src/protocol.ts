/**
 * The wire protocol between the host and a child runner, shared by both sides.
 *
 * Frames travel over a private pipe (the child's fd 3), not over Node's built-in `'ipc'` channel:
 * Node parses its IPC frames inside the channel's read callback, so one malformed frame from a child
 * throws an uncaught exception in the host (measured on Node 20: `Unable to deserialize cloned
 * data`), and a bogus length prefix silently swallows every later message. Here each frame is an
 * 8-byte header (magic, payload length) followed by a `v8.serialize` payload (the structured clone
 * that Node's `'advanced'` serialization uses), parsed inside a `try`, so garbage becomes a
 * `ProtocolError` for one task instead of a dead host.
 *
 * This module is loaded by the child runner too, so it imports nothing heavy: from the SDK only its
 * light `internal` entry, which the runner needs anyway.
 * @internal
 * @module
 */
import { constants as bufferConstants } from 'node:buffer';
import { deserialize, serialize } from 'node:v8';
import type { TaskInfo } from '@taskwarden/sdk';
import type { SerializedError } from '@taskwarden/sdk/internal';
import { isSerializedError } from '@taskwarden/sdk/internal';

/** `'TWF1'`: the first four bytes of every frame. */
export const FRAME_MAGIC = 0x54574631;
const HEADER_BYTES = 8;
/** Default of `maxMessageBytes`: larger frames are refused as a protocol violation rather than buffered. */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
/** The smallest `maxMessageBytes`: room for every control message and an error with a long stack. */
export const MIN_MAX_MESSAGE_BYTES = 64 * 1024;
/** The largest `maxMessageBytes`: what the header's 32-bit length and a Buffer can hold. */
export const MAX_MAX_MESSAGE_BYTES = Math.min(0xffff_ffff, bufferConstants.MAX_LENGTH);

/** File descriptor of the control pipe in the child. */
export const CONTROL_FD = 3;
/** File descriptor of the diagnostics pipe in the child (served by the watchdog thread). */
export const DIAGNOSTICS_FD = 4;

/** Host → child. */
export type HostMessage =
  | {
      readonly type: 'run';
      readonly id: number;
      readonly task: TaskInfo;
      readonly module: string;
      readonly export: string | undefined;
      readonly input: unknown;
      /** The task logger's level, so the child does not format records the host would drop. */
      readonly logLevel: string;
    }
  | { readonly type: 'cancel'; readonly id: number; readonly reason: SerializedError };

/** Child → host. */
export type ChildMessage =
  /** The module is loaded (the end of DEPLOYING). */
  | { readonly type: 'started'; readonly id: number }
  /** `restore` is done and `invoke` is about to be called. */
  | { readonly type: 'running'; readonly id: number }
  | { readonly type: 'result'; readonly id: number; readonly ok: true; readonly value: unknown }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly ok: false;
      readonly error: SerializedError;
      /** Set when the work returned a value that cannot be copied to the host. */
      readonly unserializable?: 'result';
    }
  /** The task's latest `ctx.reportProgress(value)` (earlier ones not yet sent are dropped). */
  | { readonly type: 'progress'; readonly id: number; readonly value: unknown }
  /** One pino record written through the task's `ctx.logger`. */
  | { readonly type: 'log'; readonly id: number; readonly line: string }
  /** Best effort, from `uncaughtExceptionMonitor`: why the child is about to die. */
  | { readonly type: 'uncaught'; readonly error: SerializedError };

/** The longest name and message an error keeps when it makes its frame too large. */
const MAX_CUT_ERROR_CHARS = 4096;

/**
 * Encodes one frame. Throws what `v8.serialize` throws for values that cannot be cloned, and a
 * `RangeError` when the payload is larger than `maxBytes`, both before anything is written. A
 * message that carries an error (a cancel reason, a failed result, an uncaught exception) and is
 * too large only because of it (a huge message, stack or field) is sent with the error cut to its
 * name and the first 4 096 characters of its message: the cancel or the failure still arrives.
 */
export function encodeFrame(
  message: HostMessage | ChildMessage,
  maxBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
): Buffer {
  let payload = serialize(message);
  if (payload.length > maxBytes) {
    const cut = withErrorCut(message);
    if (cut) payload = serialize(cut);
    if (payload.length > maxBytes) {
      throw new RangeError(`the message is ${payload.length} bytes, more than maxMessageBytes (${maxBytes})`);
    }
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32BE(FRAME_MAGIC, 0);
  frame.writeUInt32BE(payload.length, 4);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/** The message with its error cut to name and the start of its message; undefined if it carries none. */
function withErrorCut(message: HostMessage | ChildMessage): HostMessage | ChildMessage | undefined {
  const cut = (error: SerializedError): SerializedError => ({
    __taskwardenError: 1,
    name: error.name.slice(0, MAX_CUT_ERROR_CHARS),
    message: error.message.slice(0, MAX_CUT_ERROR_CHARS),
    props: {},
  });
  if (message.type === 'cancel') return { ...message, reason: cut(message.reason) };
  if (message.type === 'uncaught' || (message.type === 'result' && !message.ok)) {
    return { ...message, error: cut(message.error) };
  }
  return undefined;
}

/** What {@link FrameDecoder.push} found in a chunk. */
export interface DecodeResult {
  /** The messages completed by the chunk, in order, up to the first violation. */
  readonly messages: unknown[];
  /** The violation that stopped decoding (bad magic, oversized frame, undecodable payload), if any. */
  readonly error: Error | undefined;
}

/** Bigger backing buffers than this are not pinned for a small leftover piece of them. */
const PIN_LIMIT_BYTES = 64 * 1024;

/**
 * Splits a byte stream into decoded frames; shared by the host and the child.
 *
 * Every byte is copied at most once: a frame that spans chunks is kept as a list of pieces and
 * joined once it is complete (re-joining the partial frame on every chunk was quadratic: ~35 s for
 * a 64 MiB message in 64 KiB chunks). A frame whose header announces more than `maxFrameBytes` is
 * refused before anything is buffered. After the first violation it refuses further input.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  /** The header being read when a chunk ended inside it. */
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #headerBytes = 0;
  /** Payload length of the frame being collected, or -1 while a header is expected. */
  #expected = -1;
  #pieces: Buffer[] = [];
  #collected = 0;
  #failed = false;

  constructor(maxFrameBytes: number = DEFAULT_MAX_MESSAGE_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /**
   * Appends a chunk. Returns the messages it completed, in order, and the violation that stopped
   * decoding if there was one: messages before the violation are still delivered.
   */
  push(chunk: Buffer): DecodeResult {
    const messages: unknown[] = [];
    if (this.#failed) return { messages, error: undefined };
    let offset = 0;
    try {
      for (;;) {
        if (this.#expected < 0) {
          let header: Buffer;
          if (this.#headerBytes === 0 && chunk.length - offset >= HEADER_BYTES) {
            header = chunk.subarray(offset, offset + HEADER_BYTES);
            offset += HEADER_BYTES;
          } else {
            const copied = chunk.copy(
              this.#header,
              this.#headerBytes,
              offset,
              offset + HEADER_BYTES - this.#headerBytes,
            );
            this.#headerBytes += copied;
            offset += copied;
            if (this.#headerBytes < HEADER_BYTES) break;
            header = this.#header;
            this.#headerBytes = 0;
          }
          const magic = header.readUInt32BE(0);
          if (magic !== FRAME_MAGIC) {
            throw new Error(`bad frame header 0x${magic.toString(16).padStart(8, '0')}`);
          }
          const length = header.readUInt32BE(4);
          if (length > this.#maxFrameBytes) {
            throw new Error(`a frame of ${length} bytes exceeds maxMessageBytes (${this.#maxFrameBytes})`);
          }
          this.#expected = length;
        }
        const missing = this.#expected - this.#collected;
        const available = chunk.length - offset;
        if (available < missing) {
          if (available > 0) this.#keep(chunk.subarray(offset));
          break;
        }
        const tail = chunk.subarray(offset, offset + missing);
        offset += missing;
        const payload =
          this.#pieces.length === 0 ? tail : Buffer.concat([...this.#pieces, tail], this.#expected);
        this.#pieces = [];
        this.#collected = 0;
        this.#expected = -1;
        try {
          messages.push(deserialize(payload));
        } catch (error) {
          throw new Error(`undecodable frame: ${(error as Error).message}`, { cause: error });
        }
        if (offset === chunk.length) break;
      }
    } catch (error) {
      this.#failed = true;
      this.#pieces = [];
      this.#collected = 0;
      return { messages, error: error as Error };
    }
    return { messages, error: undefined };
  }

  #keep(piece: Buffer): void {
    // A small leftover of a big chunk is copied, so the chunk itself is not kept alive by it.
    const pinned = piece.buffer.byteLength > PIN_LIMIT_BYTES && piece.length * 2 < piece.buffer.byteLength;
    this.#pieces.push(pinned ? Buffer.from(piece) : piece);
    this.#collected += piece.length;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/**
 * Checks the shape of a decoded child message. Returns the message, or a string saying what is wrong
 * with it (the caller turns it into a `ProtocolError`).
 */
export function checkChildMessage(value: unknown): ChildMessage | string {
  if (!isObject(value)) return `expected an object, got ${value === null ? 'null' : typeof value}`;
  const type = value.type;
  switch (type) {
    case 'started':
    case 'running':
      return isId(value.id) ? (value as ChildMessage) : `'${type}' without a valid id`;
    case 'result':
      if (!isId(value.id)) return `'result' without a valid id`;
      if (value.ok === true) return 'value' in value ? (value as ChildMessage) : `'result' without a value`;
      if (value.ok === false) {
        if (!isSerializedError(value.error)) return `'result' with a malformed error`;
        if (value.unserializable !== undefined && value.unserializable !== 'result') {
          return `'result' with a bad unserializable field`;
        }
        return value as ChildMessage;
      }
      return `'result' with ok neither true nor false`;
    case 'progress':
      return isId(value.id) && 'value' in value
        ? (value as ChildMessage)
        : `'progress' without a valid id and value`;
    case 'log':
      return isId(value.id) && typeof value.line === 'string'
        ? (value as ChildMessage)
        : `'log' without a valid id and line`;
    case 'uncaught':
      return isSerializedError(value.error) ? (value as ChildMessage) : `'uncaught' with a malformed error`;
    default:
      return `unknown message type ${JSON.stringify(typeof type === 'string' ? type.slice(0, 40) : typeof type)}`;
  }
}

/** Checks a decoded host message (the child trusts its host, but not blindly). */
export function isHostMessage(value: unknown): value is HostMessage {
  if (!isObject(value) || !isId(value.id)) return false;
  if (value.type === 'run') {
    return (
      isObject(value.task) &&
      typeof value.module === 'string' &&
      (value.export === undefined || typeof value.export === 'string') &&
      typeof value.logLevel === 'string'
    );
  }
  return value.type === 'cancel' && isSerializedError(value.reason);
}
