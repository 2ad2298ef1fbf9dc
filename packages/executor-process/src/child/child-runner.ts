/**
 * Entry point of every child process the `ProcessExecutor` starts, the leader of its own process
 * group. Children do not run this file as built (`dist/child/child-runner.js`, ESM) but as one
 * CommonJS bundle of it and everything it imports (`dist/child/child-runner.cjs`, made by the
 * package's build; `node child-runner.cjs <config>`): a fresh process then reads and compiles one
 * file instead of resolving and linking a graph of ES modules, which is on the latency path of every
 * task that gets a fresh process. So: no `import.meta` here (empty in CommonJS; `__dirname` names
 * the bundle's folder), and nothing imported that the bundle would drag in whole (the SDK's main
 * entry: its DI container and pino); the SDK's pieces come from `@taskwarden/sdk/internal`.
 *
 * Order, for safety and start-up time (a fresh child's main thread is the critical path of its
 * task's latency; measured steps below are on 2 cores, Node 20):
 *
 * 1. The no-orphan watchdog thread (itself a bundle, `watchdog-thread.cjs`) is started first, before
 *    the control pipe is read, so it guards the child before any task code can run (the module's
 *    top level included). Its boot runs on its own thread, in parallel with the main thread's work;
 *    the main thread pays ~1.5 ms for `new Worker`.
 * 2. The first task is read with one synchronous read(2) (the host writes it right after the spawn)
 *    and handled at once: its module is loaded synchronously where that is safe
 *    (`requireEsModule`, from `@taskwarden/sdk/internal`: ~1.6 ms instead of ~4.5 ms for
 *    `import()`), and its frames are written with write(2).
 * 3. Only then, from `setImmediate`, is the control pipe opened as a socket (`node:net` and the
 *    socket cost ~2 ms), for later messages (a cancel, the next task with reuse) and end-of-file. A
 *    quick task has sent its result by then; any other task yields to the event loop, and the
 *    socket opens at its first turn. Messages are never reordered: what the first read did not
 *    take stays in the pipe for the socket, and the decoder is shared.
 * @internal
 * @module
 */
import { readSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import type { InvocationContext, Invokable, Logger } from '@taskwarden/sdk';
import {
  callCancelHook,
  deserializeError,
  loadModuleInvokable,
  loadModuleInvokableSync,
  runInvokable,
  serializeError,
} from '@taskwarden/sdk/internal';
import type { ChildMessage, HostMessage } from '../protocol.js';
import { CONTROL_FD, DIAGNOSTICS_FD, encodeFrame, FrameDecoder, isHostMessage } from '../protocol.js';
import type { WatchdogData } from './watchdog-thread.js';

/** What the host passes as the runner's only argument (JSON). @internal */
export interface RunnerConfig {
  readonly hostPid: number;
  readonly watchdogPollMs: number;
  readonly pauseTimeoutMs: number;
  /** The largest control message either side accepts (`maxMessageBytes`). */
  readonly maxMessageBytes: number;
  /** With a host lease (`hostLease`): the child's first deadline, in monotonic ms. */
  readonly leaseDeadlineMs?: number;
}

interface CurrentTask {
  readonly id: number;
  readonly controller: AbortController;
  readonly context: InvocationContext;
  invokable: Invokable | undefined;
}

const config = JSON.parse(process.argv[2] ?? '{}') as RunnerConfig;

/** Ends the child and everything it started: the host is gone or the protocol is broken. */
function killOwnGroup(): never {
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    // Not a group leader (started by hand?): at least do not outlive the host.
  }
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

if (typeof config.hostPid !== 'number' || process.ppid !== config.hostPid) {
  // The host died before we even started (or this was not started by the executor).
  killOwnGroup();
}

startWatchdog();

let current: CurrentTask | undefined;
const decoder = new FrameDecoder(config.maxMessageBytes);
/** The control pipe as a socket: opened by {@link openControl}, after the first read. */
let control: Socket | undefined;

process.on('uncaughtExceptionMonitor', (error) => {
  try {
    send({ type: 'uncaught', error: serializeError(error) });
  } catch {
    /* the child is dying anyway; stderr still has the stack */
  }
});

readFirstFrames();
// After the first task has gone as far as it goes without I/O: a quick task's result need not wait
// for `node:net` and the socket (~2 ms of a fresh child's start-up).
setImmediate(openControl);

/**
 * Reads what the host has sent so far with one read(2) and handles it. The host writes the first
 * task right after the spawn, so it is there (or, for a large input, its beginning is: the socket
 * reads the rest). Until the socket is opened the pipe is blocking: should nothing be there yet,
 * the main thread waits here, and end-of-file (the host is gone) ends the wait and the child.
 */
function readFirstFrames(): void {
  const buffer = Buffer.allocUnsafe(64 * 1024);
  let bytes: number;
  try {
    bytes = readSync(CONTROL_FD, buffer, 0, buffer.length, null);
  } catch {
    return; // EAGAIN, EINTR: the socket reads it
  }
  if (bytes === 0) killOwnGroup();
  receive(buffer.subarray(0, bytes));
}

/**
 * Opens the control pipe as a socket for everything after the first read (later messages, such as a
 * cancel or, with reuse, the next task) and for writes that do not fit the pipe. Idempotent.
 */
function openControl(): void {
  if (control) return;
  try {
    // Required here, not imported: the bundle would load `node:net` before the first task.
    const { Socket: SocketClass } = require('node:net') as typeof import('node:net');
    const socket = new SocketClass({ fd: CONTROL_FD, readable: true, writable: true });
    control = socket;
    // EOF or an error on the control pipe means the host is gone: do not outlive it.
    socket.on('end', killOwnGroup);
    socket.on('error', killOwnGroup);
    socket.on('data', receive);
  } catch (error) {
    // Task code closed fd 3 (the host sees its end, and stops a child that lives on without it).
    process.stderr.write(`taskwarden child: cannot open the control pipe: ${(error as Error).message}\n`);
  }
}

function receive(chunk: Buffer): void {
  const { messages, error } = decoder.push(chunk);
  for (const message of messages) {
    if (!isHostMessage(message)) {
      process.stderr.write('taskwarden child: ignoring a malformed message from the host\n');
      continue;
    }
    handleSafely(message);
  }
  if (error) {
    process.stderr.write(`taskwarden child: the host broke the protocol: ${error.message}\n`);
    killOwnGroup();
  }
}

function handleSafely(message: HostMessage): void {
  try {
    handle(message);
  } catch (error) {
    // Never stop handling: later messages (a cancel) must still be handled.
    process.stderr.write(`taskwarden child: handling '${message.type}' failed: ${(error as Error).stack}\n`);
  }
}

function startWatchdog(): void {
  const workerData: WatchdogData = {
    pgid: process.pid,
    ppid: config.hostPid,
    pollMs: config.watchdogPollMs,
    diagnosticsFd: DIAGNOSTICS_FD,
    pauseTimeoutMs: config.pauseTimeoutMs,
    ...(typeof config.leaseDeadlineMs === 'number' ? { leaseDeadlineMs: config.leaseDeadlineMs } : {}),
  };
  try {
    const worker = new Worker(join(__dirname, 'watchdog-thread.cjs'), {
      workerData,
      // The task's execArgv may hold options a worker refuses; the watchdog needs none.
      execArgv: [],
      // Its stdout and stderr are not piped into the child's: creating those streams costs the main
      // thread start-up time, and the watchdog writes nothing (its failures arrive as 'error').
      stdout: true,
      stderr: true,
      // Not a copy of the environment: cheaper to start, and the watchdog reads none of it.
      env: SHARE_ENV,
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 },
    });
    worker.unref();
    // The watchdog pings before pausing the thread for a stack: an answer means the loop is idle.
    worker.on('message', (id: unknown) => worker.postMessage(id));
    worker.on('error', (error) => {
      process.stderr.write(`taskwarden child: the watchdog thread failed: ${error.message}\n`);
    });
  } catch (error) {
    // Without it a busy child may outlive a dead host; the control pipe still covers an idle one.
    process.stderr.write(`taskwarden child: cannot start the watchdog thread: ${(error as Error).message}\n`);
  }
}

/** Throws, before writing, what encoding throws: a value that cannot be cloned, or one above `maxMessageBytes`. */
function send(message: ChildMessage): void {
  writeFrame(encodeFrame(message, config.maxMessageBytes));
}

/**
 * Writes a frame with one write(2) when nothing is queued on the socket, or there is no socket yet
 * (the first frames of a fresh child then skip the stream machinery: measured ~0.1 ms instead of
 * ~0.5 ms for a task's three frames); whatever the pipe does not take, and every frame while
 * something is queued, goes through the socket, which keeps the order.
 */
function writeFrame(frame: Buffer): void {
  let rest = frame;
  if (!control || (control.writableLength === 0 && !control.destroyed)) {
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

function handle(message: HostMessage): void {
  if (message.type === 'run') {
    void run(message);
    return;
  }
  const task = current;
  if (!task || task.id !== message.id || task.controller.signal.aborted) return; // already done: a late cancel
  task.controller.abort(deserializeError(message.reason));
  callCancelHook(task.invokable, task.context);
}

async function run(message: Extract<HostMessage, { type: 'run' }>): Promise<void> {
  const { id } = message;
  if (current) {
    process.stderr.write(`taskwarden child: the host sent task ${id} while task ${current.id} runs\n`);
    killOwnGroup();
  }
  const controller = new AbortController();
  let logger: Logger | undefined;
  const context: InvocationContext = {
    input: message.input,
    signal: controller.signal,
    // Created on first use: most tasks never log, and loading pino costs start-up time.
    get logger() {
      logger ??= createLogger(id, message.logLevel);
      return logger;
    },
    task: message.task,
  };
  const task: CurrentTask = { id, controller, context, invokable: undefined };
  current = task;
  let ok = false;
  let outcome: unknown;
  try {
    // Awaited either way: a cancel that came with the run message is seen before restore or invoke.
    const ref = { module: message.module, export: message.export };
    const invokable = await (loadModuleInvokableSync(ref) ?? loadModuleInvokable(ref));
    task.invokable = invokable;
    send({ type: 'started', id });
    outcome = await runInvokable(invokable, context, () => send({ type: 'running', id }));
    ok = true;
  } catch (error) {
    outcome = error;
  }
  if (current === task) current = undefined;
  sendResult(id, ok, outcome);
}

function sendResult(id: number, ok: boolean, outcome: unknown): void {
  if (ok) {
    try {
      send({ type: 'result', id, ok: true, value: outcome });
      return;
    } catch (error) {
      // Encoding failed before anything was written: report why instead of the value.
      send({ type: 'result', id, ok: false, error: serializeError(error), unserializable: 'result' });
      return;
    }
  }
  try {
    send({ type: 'result', id, ok: false, error: serializeError(outcome) });
  } catch {
    const error = outcome instanceof Error ? outcome : new Error(String(outcome));
    const plain = new Error(error.message);
    plain.name = error.name;
    plain.stack = error.stack ?? plain.stack;
    send({ type: 'result', id, ok: false, error: serializeError(plain) });
  }
}

type PinoFactory = (
  options: { level: string; base: null; timestamp: false },
  destination: { write(line: string): void },
) => Logger;

function createLogger(id: number, level: string): Logger {
  // pino is a dependency of the SDK; resolve it from there rather than rely on hoisting.
  const sdkPackage = createRequire(__filename).resolve('@taskwarden/sdk/package.json');
  const pino = createRequire(sdkPackage)('pino') as PinoFactory;
  return pino(
    { level, base: null, timestamp: false },
    {
      write(line: string) {
        try {
          send({ type: 'log', id, line: line.endsWith('\n') ? line.slice(0, -1) : line });
        } catch {
          /* a log line that cannot be sent is dropped, never fatal */
        }
      },
    },
  );
}
