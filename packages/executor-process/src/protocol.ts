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
 * This module is loaded by the child runner too, so it imports nothing heavy (types only from the SDK).
 * @internal
 * @module
 */
import { deserialize, serialize } from 'node:v8';
import type { TaskInfo } from '@taskwarden/sdk';
import type { SerializedError } from '@taskwarden/sdk/internal';

/** `'TWF1'`: the first four bytes of every frame. */
export const FRAME_MAGIC = 0x54574631;
const HEADER_BYTES = 8;
/** Larger frames are refused as a protocol violation rather than buffered. */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024;

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
  /** One pino record written through the task's `ctx.logger`. */
  | { readonly type: 'log'; readonly id: number; readonly line: string }
  /** Best effort, from `uncaughtExceptionMonitor`: why the child is about to die. */
  | { readonly type: 'uncaught'; readonly error: SerializedError };

/** Encodes one frame; throws what `v8.serialize` throws for values that cannot be cloned. */
export function encodeFrame(message: HostMessage | ChildMessage): Buffer {
  const payload = serialize(message);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32BE(FRAME_MAGIC, 0);
  frame.writeUInt32BE(payload.length, 4);
  payload.copy(frame, HEADER_BYTES);
  return frame;
}

/** Splits a byte stream into decoded frames. After the first error it refuses further input. */
export class FrameDecoder {
  #buffered: Buffer = Buffer.alloc(0);
  #failed = false;

  /**
   * Appends a chunk and returns the complete messages it finished, in order. Throws an Error
   * describing the violation (bad magic, oversized frame, undecodable payload); the caller turns it
   * into a `ProtocolError`.
   */
  push(chunk: Buffer): unknown[] {
    if (this.#failed) return [];
    let buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const messages: unknown[] = [];
    try {
      while (buffered.length >= HEADER_BYTES) {
        const magic = buffered.readUInt32BE(0);
        if (magic !== FRAME_MAGIC) {
          throw new Error(`bad frame header 0x${magic.toString(16).padStart(8, '0')}`);
        }
        const length = buffered.readUInt32BE(4);
        if (length > MAX_FRAME_BYTES) throw new Error(`frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`);
        if (buffered.length < HEADER_BYTES + length) break;
        const payload = buffered.subarray(HEADER_BYTES, HEADER_BYTES + length);
        try {
          messages.push(deserialize(payload));
        } catch (error) {
          throw new Error(`undecodable frame: ${(error as Error).message}`, { cause: error });
        }
        buffered = buffered.subarray(HEADER_BYTES + length);
      }
    } catch (error) {
      this.#failed = true;
      this.#buffered = Buffer.alloc(0);
      throw error;
    }
    // Keep a copy of a partial frame only; never pin the large chunk it came from.
    this.#buffered = buffered.length === 0 ? Buffer.alloc(0) : Buffer.from(buffered);
    return messages;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function isSerializedErrorShape(value: unknown): value is SerializedError {
  return (
    isObject(value) &&
    value.__taskwardenError === 1 &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    isObject(value.props)
  );
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
        if (!isSerializedErrorShape(value.error)) return `'result' with a malformed error`;
        if (value.unserializable !== undefined && value.unserializable !== 'result') {
          return `'result' with a bad unserializable field`;
        }
        return value as ChildMessage;
      }
      return `'result' with ok neither true nor false`;
    case 'log':
      return isId(value.id) && typeof value.line === 'string'
        ? (value as ChildMessage)
        : `'log' without a valid id and line`;
    case 'uncaught':
      return isSerializedErrorShape(value.error)
        ? (value as ChildMessage)
        : `'uncaught' with a malformed error`;
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
  return value.type === 'cancel' && isSerializedErrorShape(value.reason);
}
