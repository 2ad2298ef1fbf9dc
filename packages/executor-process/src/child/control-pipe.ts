/**
 * The child's end of the control pipe (fd 3). Until the first task has gone as far as it goes
 * without I/O, the pipe is read and written with plain read(2)/write(2) (a fresh child's first
 * frames then skip `node:net` and the stream machinery); after that it is a socket, opened once,
 * for later messages (a cancel, the next task with reuse), end-of-file and writes the pipe does not
 * take at once. Frames are never reordered: a direct write happens only while nothing is queued on
 * the socket.
 * @internal
 * @module
 */
import { readSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { CONTROL_FD } from '../protocol.js';

let control: Socket | undefined;
let onData: ((chunk: Buffer) => void) | undefined;
let onClosed: (() => void) | undefined;

/**
 * Where what arrives goes (`data`) and what to do when the host is gone (`closed`: end-of-file or an
 * error on the pipe). Call once, before anything is read.
 */
export function listenToControl(data: (chunk: Buffer) => void, closed: () => void): void {
  onData = data;
  onClosed = closed;
}

/**
 * Reads what the host has sent so far with one read(2) and hands it on. The host writes the first
 * task right after the spawn (once the child is in its cgroup), so it is there or about to be (for
 * a large input, its beginning: the socket reads the rest). Until the socket is opened the pipe is
 * blocking: should nothing be there yet, the main thread waits here, and end-of-file (the host is
 * gone) ends the wait and the child.
 */
export function readFirstFrames(): void {
  const buffer = Buffer.allocUnsafe(64 * 1024);
  let bytes: number;
  try {
    bytes = readSync(CONTROL_FD, buffer, 0, buffer.length, null);
  } catch {
    return; // EAGAIN, EINTR: the socket reads it
  }
  if (bytes === 0) onClosed?.();
  else onData?.(buffer.subarray(0, bytes));
}

/** Opens the control pipe as a socket (it turns the pipe non-blocking). Idempotent. */
export function openControl(): void {
  if (control) return;
  try {
    // Required here, not imported: the bundle would load `node:net` before the first task.
    const { Socket: SocketClass } = require('node:net') as typeof import('node:net');
    const socket = new SocketClass({ fd: CONTROL_FD, readable: true, writable: true });
    control = socket;
    // EOF or an error on the control pipe means the host is gone.
    socket.on('end', () => onClosed?.());
    socket.on('error', () => onClosed?.());
    socket.on('data', (chunk: Buffer) => onData?.(chunk));
  } catch (error) {
    // Task code closed fd 3 (the host sees its end, and stops a child that lives on without it).
    process.stderr.write(`taskwarden child: cannot open the control pipe: ${(error as Error).message}\n`);
  }
}

/**
 * Writes a frame, in order: with one write(2) when nothing is queued on the socket (or there is no
 * socket yet: measured ~0.1 ms instead of ~0.5 ms for a task's three frames); whatever the pipe
 * does not take, and every frame while something is queued, goes through the socket.
 */
export function writeFrame(frame: Buffer): void {
  let rest = frame;
  if (isFree()) {
    try {
      rest = frame.subarray(writeSync(CONTROL_FD, frame));
    } catch {
      // EAGAIN (the pipe is full), EPIPE (the host is gone: the socket reports it): the socket's turn.
    }
  }
  if (rest.length === 0) return;
  openControl();
  control?.write(rest);
}

/**
 * Writes a frame only if the pipe takes it now: false when something is queued on the socket or
 * the pipe is full (EAGAIN; nothing was written). What the pipe takes only in part is queued on the
 * socket for the rest (true). Needs the socket open, so that the pipe does not block.
 */
export function writeFrameIfFree(frame: Buffer): boolean {
  openControl();
  if (!isFree()) return false;
  let written: number;
  try {
    written = writeSync(CONTROL_FD, frame);
  } catch (error) {
    // EAGAIN: full, try later. Anything else (EPIPE: the host is gone): nobody to deliver to.
    return (error as NodeJS.ErrnoException).code !== 'EAGAIN';
  }
  if (written < frame.length) control?.write(frame.subarray(written));
  return true;
}

/** How long to wait before trying again when the pipe was full and nothing is queued on the socket. */
const FULL_PIPE_RETRY_MS = 5;

/**
 * Calls `callback` once the pipe may take a frame again: when what is queued on the socket has been
 * written, or shortly when the pipe was merely full.
 */
export function onceControlWritable(callback: () => void): void {
  if (control && control.writableLength > 0) control.once('drain', callback);
  else setTimeout(callback, FULL_PIPE_RETRY_MS).unref();
}

function isFree(): boolean {
  return !control || (control.writableLength === 0 && !control.destroyed);
}
