/**
 * The entry point of every pool thread. It runs one task at a time: load the module (cached per
 * module by the SDK helpers; an ES module synchronously where that is safe, see `loadModuleInvokableSync`),
 * `restore`, `invoke`, and post the outcome (after the task's last progress report). At start it
 * installs the tracking of the processes tasks spawn (`process-tree/spawn-tracking.ts`), which costs
 * nothing until a task spawns. Kept lean: this file is the per-task hot path inside the worker.
 *
 * Threads do not load this file as built (`dist/worker/worker-runner.js`, ESM) but as one CommonJS
 * bundle of it and everything it imports (`dist/worker/worker-runner.cjs`, made by the package's
 * build): a fresh thread then reads one file instead of resolving and linking a graph of ES modules,
 * which shortens the start of every new thread — the replacement after a hard stop included. So:
 * no `import.meta` here (empty in CommonJS), and nothing imported that the bundle would drag in
 * whole (the SDK's main entry: its DI container and pino); the SDK's pieces come from
 * `@taskwarden/sdk/internal`.
 * @internal
 * @module
 */

import type { MessagePort } from 'node:worker_threads';
import { isMainThread, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { InvocationContext, Invokable, Logger, TaskInfo } from '@taskwarden/sdk';
import type { SerializedError } from '@taskwarden/sdk/internal';
import {
  callCancelHook,
  deserializeError,
  LazyAbort,
  loadModuleInvokable,
  loadModuleInvokableSync,
  runInvokable,
  serializeError,
} from '@taskwarden/sdk/internal';
import { claim } from './offer-protocol.js';
import { trackSpawns } from './process-tree/spawn-tracking.js';
import { ProgressChannel } from './progress-channel.js';
import type {
  CancelMessage,
  HostMessage,
  LogMessage,
  RunMessage,
  RunnerData,
  WorkerMessage,
} from './protocol.js';
import { CHANNEL_CLOSED, Kind, TAKEN, WAKEUPS } from './protocol.js';
import { createForwardingLogger } from './worker-logger.js';

if (isMainThread) throw new Error('worker-runner must be loaded as a worker thread by WorkerExecutor');
const { port, signals, logger: loggerInfo, tree } = workerData as RunnerData;

/** The task on this thread. */
interface Current {
  readonly id: number;
  readonly context: Context;
  invokable: Invokable | undefined;
}

let current: Current | undefined;
/** The latest offer received while busy (an older one is stale: the host offers one at a time). */
let offer: RunMessage | undefined;
/** Task code closed the task channel: nothing can be reported any more; the host stops the thread. */
let channelClosed = false;

const post = (message: WorkerMessage): void => port.postMessage(message);
const postLog = (message: LogMessage): void => port.postMessage(message);

// A context per task; neither the AbortSignal, the logger nor the task info exists unless the
// task reads it.
class Context implements InvocationContext {
  readonly abort = new LazyAbort();
  readonly #message: RunMessage;
  #task: TaskInfo | undefined;
  #logger: Logger | undefined;
  #progress: ProgressChannel | undefined;
  #report: ((value: unknown) => void) | undefined;

  constructor(message: RunMessage) {
    this.#message = message;
  }

  get input(): unknown {
    return this.#message[4];
  }

  get task(): TaskInfo {
    const m = this.#message;
    this.#task ??=
      m[12] === undefined
        ? { executionId: m[5], jobId: m[6], allocationId: m[7], name: m[8], attempt: m[9] }
        : {
            executionId: m[5],
            jobId: m[6],
            allocationId: m[7],
            name: m[8],
            attempt: m[9],
            fencingToken: m[12],
          };
    return this.#task;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get logger(): Logger {
    const m = this.#message;
    this.#logger ??= createForwardingLogger(postLog, m[1], m[10], loggerInfo, {
      jobId: m[6],
      executionId: m[5],
      name: m[8],
    });
    return this.#logger;
  }

  /** A function, not a method: task code destructures it from the context (`{ reportProgress }`). */
  get reportProgress(): (value: unknown) => void {
    if (this.#progress === undefined) {
      const id = this.#message[1];
      this.#progress = new ProgressChannel((value) => port.postMessage([Kind.progress, id, value]));
    }
    const progress = this.#progress;
    this.#report ??= (value) => progress.report(value);
    return this.#report;
  }

  /** The host delivered the last progress report. */
  progressDelivered(): void {
    this.#progress?.delivered();
  }

  /** The task has ended: its last progress report goes ahead of the outcome. */
  end(): void {
    this.#progress?.end();
  }
}

async function run(message: RunMessage): Promise<void> {
  const id = message[1];
  const exportName = message[3];
  const context = new Context(message);
  const task: Current = { id, context, invokable: undefined };
  current = task;
  let ok = true;
  let outcome: unknown;
  try {
    const ref =
      exportName === undefined ? { module: message[2] } : { module: message[2], export: exportName };
    const invokable = await (loadModuleInvokableSync(ref) ?? loadModuleInvokable(ref));
    task.invokable = invokable;
    // Without `restore`, loading and running are one step; `running` implies `started`.
    if (invokable.restore) post([Kind.started, id]);
    outcome = await runInvokable(invokable, context, () => post([Kind.running, id]), context.abort);
  } catch (error) {
    ok = false;
    outcome = error;
  }
  // The task stays current until its outcome is posted, so nothing else starts before it is.
  context.end();
  if (!ok) postError(id, outcome);
  else {
    try {
      port.postMessage([Kind.result, id, outcome]);
    } catch (error) {
      // DataCloneError: the value cannot cross; say so instead of leaving the host waiting (the
      // host wraps the cause in a SerializationError: that class is not imported here, see above).
      postError(id, error, Kind.uncloneable);
    }
  }
  if (current === task) current = undefined;
  idle();
}

/** The current task has ended: take the offered task at once if there is one, else go idle. */
function idle(): void {
  if (current !== undefined) return;
  // On a closed channel an offer stays unclaimed: the host gives it to another thread.
  if (offer !== undefined && !channelClosed) claimOffer();
  // After the microtasks the task left behind (a promise chain it did not await) have run:
  // blocking in a microtask would hold them up until the next task.
  if (current === undefined) setImmediate(waitIdle);
}

/** Runs the offered task if the host has not taken it back meanwhile. */
function claimOffer(): void {
  const message = offer as RunMessage;
  offer = undefined;
  if (claim(signals, message[1])) start(message);
}

function start(message: RunMessage): void {
  Atomics.store(signals, TAKEN, message[1]);
  void run(message);
}

function postError(
  id: number,
  error: unknown,
  kind: typeof Kind.error | typeof Kind.uncloneable = Kind.error,
): void {
  let serialized: SerializedError;
  try {
    serialized = serializeError(error);
  } catch (failure) {
    // A thrown value whose fields throw when read (a hostile Proxy): report that instead.
    serialized = serializeError(new Error(`the thrown value could not be read: ${String(failure)}`));
  }
  try {
    port.postMessage([kind, id, serialized]);
  } catch {
    // Only a `code` that cannot be copied gets here (other fields are filtered when serializing).
    port.postMessage([kind, id, { ...serialized, code: String(serialized.code) }]);
  }
}

function cancel(message: CancelMessage): void {
  const task = current;
  // A cancel that crossed the task's result on the way is about a finished task: nothing to do.
  if (task === undefined || task.id !== message[1]) return;
  if (task.context.abort.abort(deserializeError(message[2]))) callCancelHook(task.invokable, task.context);
}

function onMessage(message: HostMessage): void {
  if (message[0] === Kind.cancel) cancel(message);
  else if (message[0] === Kind.progressAck) {
    if (current?.id === message[1]) current.context.progressDelivered();
  } else if (message[11] === 0) start(message);
  else {
    offer = message;
    if (current === undefined) claimOffer();
  }
}

let seenWakeups = 0;

/**
 * Between tasks, sleep in `Atomics.wait` instead of the event loop when nothing else needs the
 * loop: the host bumps `signals[WAKEUPS]` after posting a task, and the task is read with
 * `receiveMessageOnPort`. Waking from a futex is cheaper than a trip through the event loop, which
 * is most of the cost of a short task. When anything else is pending on this thread (a timer, a
 * socket, a file operation or stdio still being written — left behind by a task or set up by a
 * module), the thread stays in its event loop so that work goes on, and tasks arrive as events.
 * `worker.terminate()` interrupts the wait.
 */
function waitIdle(): void {
  while (current === undefined && nothingElsePending()) {
    Atomics.wait(signals, WAKEUPS, seenWakeups);
    // Read the counter before draining, so a task posted meanwhile leaves it changed for the next wait.
    seenWakeups = Atomics.load(signals, WAKEUPS);
    for (let entry = receiveMessageOnPort(port); entry !== undefined; entry = receiveMessageOnPort(port)) {
      onMessage(entry.message as HostMessage);
    }
  }
}

function nothingElsePending(): boolean {
  const resources = process.getActiveResourcesInfo();
  for (const resource of resources) if (resource !== 'MessagePort') return false;
  return process.stdout.writableLength === 0 && process.stderr.writableLength === 0;
}

trackSpawns({
  signals,
  tree,
  reaperPath: tree.reaperPath,
  currentTask: () => current?.id ?? 0,
  spawned: (pid, id) => port.postMessage([Kind.spawned, id, pid]),
  reaped: (pid, id) => port.postMessage([Kind.reaped, id, pid]),
});
port.on('message', onMessage);
// Only task code closes this end (the host never closes its end while the thread lives): tell the
// host on Node's own channel, so it stops this thread at once instead of waiting for a result.
function onChannelClosed(): void {
  if (channelClosed) return;
  channelClosed = true;
  offer = undefined; // unclaimed: the host takes it back
  try {
    parentPort?.postMessage(CHANNEL_CLOSED);
  } catch {
    // parentPort closed as well: the host notices the closed channel by itself, a little later.
  }
}
port.on('close', onChannelClosed);
// The 'close' event comes a loop turn later; a task that closes the channel and returns at once must
// not have its thread claim an offered task first (it would run where its outcome cannot be reported).
const closePort = port.close;
port.close = function close(this: MessagePort): void {
  onChannelClosed();
  closePort.call(this);
};
waitIdle();
