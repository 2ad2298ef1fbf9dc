/**
 * Entry point of every child process the `ProcessExecutor` starts (`node child-runner.js <config>`),
 * the leader of its own process group.
 *
 * Order matters for start-up time and safety. The no-orphan watchdog thread starts right before the
 * first task's module is imported: before any task code runs, but after the SDK helpers are loaded,
 * so its boot does not compete with that import (measured: ~10 ms of a fresh task's latency on two
 * cores). Until then only the runner's own code runs, and it yields to the event loop, where EOF on
 * the control pipe ends a child whose host died. Run messages may already be waiting in the control
 * pipe; nothing is lost because nothing is read before the handlers are in place.
 * @internal
 * @module
 */
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import type { InvocationContext, Invokable, Logger } from '@taskwarden/sdk';
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
}

type Internal = typeof import('@taskwarden/sdk/internal');

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

const internalLoading: Promise<Internal> = import('@taskwarden/sdk/internal');
let internal: Internal | undefined;
let current: CurrentTask | undefined;

const control = new Socket({ fd: CONTROL_FD, readable: true, writable: true });
// EOF or an error on the control pipe means the host is gone: do not outlive it.
control.on('end', killOwnGroup);
control.on('error', killOwnGroup);
const decoder = new FrameDecoder(config.maxMessageBytes);
let inbox: Promise<unknown> = internalLoading.then((loaded) => {
  internal = loaded;
});
control.on('data', (chunk: Buffer) => {
  const { messages, error } = decoder.push(chunk);
  for (const message of messages) {
    if (!isHostMessage(message)) {
      process.stderr.write('taskwarden child: ignoring a malformed message from the host\n');
      continue;
    }
    // Keep arrival order even while the SDK helpers are still loading.
    if (internal) handleSafely(internal, message);
    else inbox = inbox.then(() => handleSafely(internal as Internal, message));
  }
  if (error) {
    process.stderr.write(`taskwarden child: the host broke the protocol: ${error.message}\n`);
    killOwnGroup();
  }
});

function handleSafely(sdk: Internal, message: HostMessage): void {
  try {
    handle(sdk, message);
  } catch (error) {
    // Never break the inbox chain: later messages (a cancel) must still be handled.
    process.stderr.write(`taskwarden child: handling '${message.type}' failed: ${(error as Error).stack}\n`);
  }
}

process.on('uncaughtExceptionMonitor', (error) => {
  if (!internal) return;
  try {
    send({ type: 'uncaught', error: internal.serializeError(error) });
  } catch {
    /* the child is dying anyway; stderr still has the stack */
  }
});

let watchdogStarted = false;

function startWatchdog(): void {
  if (watchdogStarted) return;
  watchdogStarted = true;
  const workerData: WatchdogData = {
    pgid: process.pid,
    ppid: config.hostPid,
    pollMs: config.watchdogPollMs,
    diagnosticsFd: DIAGNOSTICS_FD,
    pauseTimeoutMs: config.pauseTimeoutMs,
  };
  try {
    const worker = new Worker(new URL('./watchdog-thread.js', import.meta.url), {
      workerData,
      // The task's execArgv may hold options a worker refuses; the watchdog needs none.
      execArgv: [],
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
  control.write(encodeFrame(message, config.maxMessageBytes));
}

function handle(sdk: Internal, message: HostMessage): void {
  if (message.type === 'run') {
    void run(sdk, message);
    return;
  }
  const task = current;
  if (!task || task.id !== message.id || task.controller.signal.aborted) return; // already done: a late cancel
  task.controller.abort(sdk.deserializeError(message.reason));
  sdk.callCancelHook(task.invokable, task.context);
}

async function run(sdk: Internal, message: Extract<HostMessage, { type: 'run' }>): Promise<void> {
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
  // Before any task code runs (the module's top level included). Until now only our own code ran,
  // which yields to the event loop, where EOF on the control pipe already ends an orphaned child.
  startWatchdog();
  let ok = false;
  let outcome: unknown;
  try {
    const invokable = await sdk.loadModuleInvokable({ module: message.module, export: message.export });
    task.invokable = invokable;
    send({ type: 'started', id });
    outcome = await sdk.runInvokable(invokable, context, () => send({ type: 'running', id }));
    ok = true;
  } catch (error) {
    outcome = error;
  }
  if (current === task) current = undefined;
  sendResult(sdk, id, ok, outcome);
}

function sendResult(sdk: Internal, id: number, ok: boolean, outcome: unknown): void {
  if (ok) {
    try {
      send({ type: 'result', id, ok: true, value: outcome });
      return;
    } catch (error) {
      // Encoding failed before anything was written: report why instead of the value.
      send({ type: 'result', id, ok: false, error: sdk.serializeError(error), unserializable: 'result' });
      return;
    }
  }
  try {
    send({ type: 'result', id, ok: false, error: sdk.serializeError(outcome) });
  } catch {
    const error = outcome instanceof Error ? outcome : new Error(String(outcome));
    const plain = new Error(error.message);
    plain.name = error.name;
    plain.stack = error.stack ?? plain.stack;
    send({ type: 'result', id, ok: false, error: sdk.serializeError(plain) });
  }
}

type PinoFactory = (
  options: { level: string; base: null; timestamp: false },
  destination: { write(line: string): void },
) => Logger;

function createLogger(id: number, level: string): Logger {
  // pino is a dependency of the SDK; resolve it from there rather than rely on hoisting.
  const sdkPackage = createRequire(import.meta.url).resolve('@taskwarden/sdk/package.json');
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
