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
 *    take stays in the pipe for the socket, and the decoder is shared (see `control-pipe.ts`).
 *
 * When the host is gone (end-of-file on the control pipe, or the watchdog thread sees the child
 * re-parented), the child kills its whole tree, itself last (`killOwnTree`: by its cgroup, its
 * session and cookie, or its process group, as the executor's tree-kill mode says).
 * @internal
 * @module
 */
import { join } from 'node:path';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import type { InvocationContext, Invokable } from '@taskwarden/sdk';
import type { OwnTree, SerializedError } from '@taskwarden/sdk/internal';
import {
  callCancelHook,
  deserializeError,
  loadModuleInvokable,
  loadModuleInvokableSync,
  runInvokable,
  serializeError,
} from '@taskwarden/sdk/internal';
import type { ChildMessage, HostMessage } from '../protocol.js';
import { DIAGNOSTICS_FD, encodeFrame, FrameDecoder, isHostMessage } from '../protocol.js';
import { listenToControl, openControl, readFirstFrames, writeFrame } from './control-pipe.js';
import { killOwnTreeNow } from './load-host-death.js';
import { ProgressChannel } from './progress-channel.js';
import { TaskContext } from './task-context.js';
import type { WatchdogData } from './watchdog-thread.js';

/** What the host passes as the runner's only argument (JSON). @internal */
export interface RunnerConfig {
  readonly hostPid: number;
  readonly watchdogPollMs: number;
  readonly pauseTimeoutMs: number;
  /** The largest control message either side accepts (`maxMessageBytes`). */
  readonly maxMessageBytes: number;
  /** The child's tree, which it kills when the host is gone. */
  readonly tree: OwnTree;
  /** With a host lease (`hostLease`): the child's first deadline, in monotonic ms. */
  readonly leaseDeadlineMs?: number;
}

interface CurrentTask {
  readonly id: number;
  readonly controller: AbortController;
  readonly context: InvocationContext;
  readonly progress: ProgressChannel;
  invokable: Invokable | undefined;
}

const config = JSON.parse(process.argv[2] ?? '{}') as RunnerConfig;

/** Ends the child and everything it started: the host is gone or the protocol is broken. */
function die(): never {
  killOwnTreeNow(__dirname, config.tree);
  // Still here: every way of killing the tree failed; at least do not outlive the host.
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

if (typeof config.hostPid !== 'number' || process.ppid !== config.hostPid) {
  // The host died before we even started (or this was not started by the executor).
  die();
}

startWatchdog();

let current: CurrentTask | undefined;
const decoder = new FrameDecoder(config.maxMessageBytes);

process.on('uncaughtExceptionMonitor', (error) => {
  try {
    send({ type: 'uncaught', error: serializeError(error) });
  } catch {
    /* the child is dying anyway; stderr still has the stack */
  }
});

listenToControl(receive, die);
readFirstFrames();
// After the first task has gone as far as it goes without I/O: a quick task's result need not wait
// for `node:net` and the socket (~2 ms of a fresh child's start-up).
setImmediate(openControl);

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
    die();
  }
}

function handleSafely(message: HostMessage): void {
  try {
    handle(message);
  } catch (error) {
    // Never stop handling: later messages (a cancel) must still be handled.
    process.stderr.write(
      `taskwarden child: handling '${message.type}' failed: ${describeForStderr(error)}\n`,
    );
  }
}

function describeForStderr(error: unknown): string {
  const serialized = serializeError(error);
  return serialized.stack ?? `${serialized.name}: ${serialized.message}`;
}

function startWatchdog(): void {
  const workerData: WatchdogData = {
    pgid: process.pid,
    ppid: config.hostPid,
    pollMs: config.watchdogPollMs,
    diagnosticsFd: DIAGNOSTICS_FD,
    pauseTimeoutMs: config.pauseTimeoutMs,
    tree: config.tree,
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

function handle(message: HostMessage): void {
  if (message.type === 'run') {
    void run(message);
    return;
  }
  const task = current;
  if (!task || task.id !== message.id || task.controller.signal.aborted) return; // already done: a late cancel
  task.controller.abort(cancelReason(message.reason));
  callCancelHook(task.invokable, task.context);
}

/**
 * The reason to abort a task's signal with, rebuilt from what the host sent; a reason that cannot be
 * rebuilt still cancels the task (with a plain Error saying so): no shape of reason may keep a
 * task's signal from being aborted.
 */
function cancelReason(reason: SerializedError): unknown {
  try {
    return deserializeError(reason);
  } catch (error) {
    return new Error(`the task was cancelled (its reason could not be rebuilt: ${describeForStderr(error)})`);
  }
}

async function run(message: Extract<HostMessage, { type: 'run' }>): Promise<void> {
  const { id } = message;
  if (current) {
    process.stderr.write(`taskwarden child: the host sent task ${id} while task ${current.id} runs\n`);
    die();
  }
  const controller = new AbortController();
  const progress = new ProgressChannel(id, config.maxMessageBytes);
  const context = new TaskContext(message, controller.signal, progress, (line) => {
    try {
      send({ type: 'log', id, line });
    } catch {
      /* a log line that cannot be sent is dropped, never fatal */
    }
  });
  const task: CurrentTask = { id, controller, context, progress, invokable: undefined };
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
  // The last progress report goes before the outcome.
  progress.close();
  sendResult(id, ok, outcome);
}

/**
 * Reports the outcome; never throws, whatever the task returned or threw. A value that cannot be
 * cloned is reported as why (the host makes it a `SerializationError`); an error is flattened by
 * `serializeError`, which never throws, and one too large for the pipe is sent cut (see
 * `encodeFrame`).
 */
function sendResult(id: number, ok: boolean, outcome: unknown): void {
  if (ok) {
    try {
      send({ type: 'result', id, ok: true, value: outcome });
      return;
    } catch (error) {
      // Encoding failed before anything was written: report why instead of the value.
      sendFailure(id, serializeError(error), true);
      return;
    }
  }
  sendFailure(id, serializeError(outcome), false);
}

function sendFailure(id: number, error: SerializedError, unserializable: boolean): void {
  try {
    send({ type: 'result', id, ok: false, error, ...(unserializable ? { unserializable: 'result' } : {}) });
  } catch (failure) {
    // Nothing can be reported: the host learns of the task's end from the child's exit.
    process.stderr.write(`taskwarden child: cannot report task ${id}: ${describeForStderr(failure)}\n`);
    die();
  }
}
