import type { MessagePort } from 'node:worker_threads';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { LaunchSpec, ModuleReference } from '@taskwarden/sdk';
import {
  ExecutorClosedError,
  InvalidInvokableError,
  ProtocolError,
  SerializationError,
  TaskCancelledError,
} from '@taskwarden/sdk';
import {
  deserializeError,
  isModuleReference,
  isSerializedError,
  serializeError,
} from '@taskwarden/sdk/internal';
import { WorkerExitedError, WorkerStartError } from '../errors.js';
import type { LogMessage, RunMessage, RunnerData, WorkerMessage } from './protocol.js';
import {
  CHANNEL_CLOSED,
  checkWorkerMessage,
  Kind,
  kindName,
  LEVEL_NAMES,
  OFFER,
  SIGNAL_SLOTS,
  TAKEN,
  WAKEUPS,
} from './protocol.js';
import { TaskQueue } from './task-queue.js';
import type { ExecutionControl } from './worker-execution.js';
import { WorkerExecution } from './worker-execution.js';
import type { ResolvedWorkerExecutorOptions } from './worker-executor-options.js';
import { captureWorkerStack } from './worker-stack.js';

/** The runner and all it imports in one CommonJS file, made by the build (see worker-runner.ts). */
const RUNNER_URL = new URL('./worker-runner.cjs', import.meta.url);
const EXECUTOR_NAME = 'worker';
/** The ladder bounds `diagnose()` too (2 s); this keeps a direct caller from waiting longer. */
const DIAGNOSE_TIMEOUT_MS = 1_500;
const ANSWER_WAIT_MS = 750;
const PAUSE_WAIT_MS = 250;
/**
 * How long a thread whose task channel closed without the runner's notice (see `CHANNEL_CLOSED`)
 * gets to exit before the close counts as a protocol violation: a dying thread closes its channel
 * a moment before its `'exit'` event, and must still end its task with `WorkerExitedError`.
 */
const CHANNEL_CLOSE_GRACE_MS = 500;

/** `idle` waits for a task; `busy` runs one (or is booting for one); `exiting` was terminated or crashed. */
type ThreadState = 'busy' | 'idle' | 'exiting';

/** One worker thread of the pool; counted until its `'exit'` event, whatever its state. */
class PoolThread {
  readonly worker: Worker;
  /** The host's end of the task channel. */
  readonly port: MessagePort;
  readonly exited: Promise<void>;
  /** Shared with the thread: see `RunnerData.signals`. */
  readonly signals: Int32Array;
  state: ThreadState = 'busy';
  /** The task the thread runs (or is about to run: see `offered`). */
  current: WorkerExecution | undefined;
  /** A task offered to the thread for when `current` ends; see `OFFER`. */
  offered: WorkerExecution | undefined;
  /** When `current` was given to the thread; the longest-running thread gets the offer. */
  currentSince = 0;
  idleSince = 0;
  terminatedAt = 0;
  referenced = true;
  /** The uncaught exception reported by `'error'`, kept as the cause of `WorkerExitedError`. */
  crash: Error | undefined;
  /** Why the pool terminated the thread; the running task (if any) fails with it. */
  stopReason: Error | undefined;
  /** Armed when the task channel closed unannounced: the thread must exit before it fires. */
  channelCloseTimer: NodeJS.Timeout | undefined;
  #markExited!: () => void;

  constructor(worker: Worker, port: MessagePort, signals: Int32Array) {
    this.worker = worker;
    this.port = port;
    this.signals = signals;
    this.exited = new Promise((resolve) => {
      this.#markExited = resolve;
    });
  }

  markExited(): void {
    this.#markExited();
  }
}

/** Thread and queue counts; see {@link WorkerExecutor.stats}. */
export interface WorkerPoolStats {
  /** Every live thread, including threads that were terminated and have not exited yet. */
  readonly threads: number;
  /** Threads running a task (or starting up for one). */
  readonly busy: number;
  /** Threads waiting for a task. */
  readonly idle: number;
  /** Threads terminated (hard stop, crash, idle timeout, close) whose `'exit'` has not come yet. */
  readonly exiting: number;
  /** Tasks waiting in DEPLOYING for a thread. */
  readonly queued: number;
}

/**
 * The thread pool behind {@link WorkerExecutor}.
 *
 * Accounting rule: a thread counts against `maxThreads` from `new Worker` until its `'exit'`
 * event. A hard-stopped thread therefore keeps its place until it has really exited, and only then
 * is a replacement started (lazily, for the next waiting task).
 *
 * Offers: when every thread is busy and tasks wait, the oldest waiting task is posted ahead of time
 * to the thread that has run its current task the longest, marked as an offer. When that task ends,
 * the thread claims the offer itself and goes straight on, without waiting for the host to hear of
 * the end and send the next task (on a busy machine that round trip is most of the cost of a short
 * task). The offer stays a waiting task — DEPLOYING, counted as queued, revocable: if another thread
 * is free first, the host takes it back (an atomic exchange on the thread's `OFFER` slot; whoever
 * exchanges first wins) and gives it to that thread, so tasks still start first come, first served;
 * and a cancelled offer is taken back and never invoked. At most one offer is out at a time.
 * @internal
 */
export class WorkerPool implements ExecutionControl {
  readonly #options: ResolvedWorkerExecutorOptions;
  readonly #threads = new Set<PoolThread>();
  /** Idle threads, most recently used last (reused first, so the others can time out). */
  readonly #idle: PoolThread[] = [];
  readonly #queue = new TaskQueue<WorkerExecution>();
  /** The thread holding the outstanding offer, while the host may still take it back. */
  #offerThread: PoolThread | undefined;
  #nextId = 0;
  #logLevel: number | undefined;
  #reapTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: ResolvedWorkerExecutorOptions) {
    this.#options = options;
  }

  get stats(): WorkerPoolStats {
    let exiting = 0;
    for (const thread of this.#threads) if (thread.state === 'exiting') exiting++;
    const idle = this.#idle.length;
    return {
      threads: this.#threads.size,
      busy: this.#threads.size - idle - exiting,
      idle,
      exiting,
      queued: this.#queue.size + (this.#offerThread ? 1 : 0),
    };
  }

  get threadCount(): number {
    return this.#threads.size;
  }

  launch(spec: LaunchSpec): WorkerExecution {
    if (this.#closing) throw new ExecutorClosedError(EXECUTOR_NAME);
    const ref = spec.invokable;
    if (!isModuleReference(ref)) {
      throw new InvalidInvokableError(
        'WorkerExecutor runs module references only ({ module, export? }); functions and objects cannot cross to a thread',
      );
    }
    if (ref.export !== undefined && typeof ref.export !== 'string') {
      throw new InvalidInvokableError(`the export of module '${ref.module}' must be a string`);
    }
    // The level of the task logger decides which records a worker bothers to post; read once,
    // because reading it creates the task's child logger.
    this.#logLevel ??= levelOf(spec);
    const execution = new WorkerExecution(this, spec, ++this.#nextId);
    const waiting = this.#queue.size > 0 || this.#offerThread !== undefined;
    const thread = waiting ? undefined : this.#takeThread();
    if (thread === undefined) {
      this.#queue.push(execution);
      this.#makeOffer();
      return execution;
    }
    const error = this.#dispatch(thread, execution, false);
    if (error) {
      execution.phase = 'done';
      this.#feed(thread);
      throw error;
    }
    return execution;
  }

  cancel(execution: WorkerExecution, reason: Error): void {
    // Never started: take it out and end it without invoking anything.
    if (this.#withdraw(execution, reason)) return;
    const thread = this.#threadOf(execution);
    if (thread === undefined || thread.state === 'exiting') return;
    thread.port.postMessage([Kind.cancel, execution.id, serializeError(reason)]);
  }

  kill(execution: WorkerExecution): Promise<void> {
    if (this.#withdraw(execution, execution.cancelReason ?? stoppedError(execution, 'before it started'))) {
      return Promise.resolve();
    }
    const thread = this.#threadOf(execution);
    if (thread === undefined) return Promise.resolve();
    return this.#terminate(thread, stoppedError(execution, 'by terminating its worker thread'));
  }

  /**
   * Ends a task that has not started — waiting in the queue, offered, or given to a thread that
   * has not claimed it yet — with `reason`. False if it has started (or ended).
   */
  #withdraw(execution: WorkerExecution, reason: Error): boolean {
    if (execution.phase === 'queued') {
      this.#queue.remove(execution);
      execution.settle(false, reason);
      return true;
    }
    const thread = this.#threadOf(execution);
    if (thread === undefined || thread.state === 'exiting' || !takeBack(thread, execution)) return false;
    if (thread.offered === execution) {
      thread.offered = undefined;
      if (this.#offerThread === thread) this.#offerThread = undefined;
      execution.settle(false, reason);
      this.#makeOffer();
    } else {
      // Given to the thread when its previous task ended, not claimed yet: the thread is free.
      thread.current = undefined;
      execution.settle(false, reason);
      this.#feed(thread);
    }
    return true;
  }

  diagnose(execution: WorkerExecution): Promise<string | undefined> {
    const thread = this.#threadOf(execution);
    if (thread === undefined || thread.current !== execution) return Promise.resolve(undefined);
    if (thread.state === 'exiting') {
      const ms = Math.round(performance.now() - thread.terminatedAt);
      return Promise.resolve(
        `worker thread ${thread.worker.threadId} was terminated ${ms} ms ago and has not exited yet ` +
          '(a thread inside a synchronous native call exits only when the call returns)',
      );
    }
    const { threadId } = thread.worker;
    return captureWorkerStack(threadId, {
      timeoutMs: DIAGNOSE_TIMEOUT_MS,
      answerWaitMs: ANSWER_WAIT_MS,
      pauseWaitMs: PAUSE_WAIT_MS,
      cutShort: thread.exited.then(() => `worker thread ${threadId} exited while its stack was being read`),
    });
  }

  /** Drops the waiting tasks of a job; running ones are stopped by their own ladders. */
  cancelJob(jobId: string): void {
    const reason = (execution: WorkerExecution) =>
      execution.cancelReason ?? new TaskCancelledError(execution.spec.task.executionId);
    const offered = this.#offerThread?.offered;
    if (offered?.spec.task.jobId === jobId) this.#withdraw(offered, reason(offered));
    for (const execution of this.#queue.removeWhere((queued) => queued.spec.task.jobId === jobId)) {
      execution.settle(false, reason(execution));
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearTimeout(this.#reapTimer);
    this.#reapTimer = undefined;
    const closed = new ExecutorClosedError(EXECUTOR_NAME);
    const offered = this.#offerThread?.offered;
    if (offered) this.#withdraw(offered, closed);
    for (let execution = this.#queue.shift(); execution; execution = this.#queue.shift()) {
      execution.settle(false, closed);
    }
    await Promise.all([...this.#threads].map((thread) => this.#terminate(thread, closed)));
  }

  #threadOf(execution: WorkerExecution): PoolThread | undefined {
    if (execution.phase !== 'running' && execution.phase !== 'offered') return undefined;
    for (const thread of this.#threads) {
      if (thread.current === execution || thread.offered === execution) return thread;
    }
    return undefined;
  }

  /** An idle thread (most recently used), or a new one if the pool has room. */
  #takeThread(): PoolThread | undefined {
    const thread = this.#idle.pop();
    if (thread) {
      if (!thread.referenced) {
        thread.referenced = true;
        thread.worker.ref();
      }
      return thread;
    }
    if (this.#threads.size >= this.#options.maxThreads || this.#closing) return undefined;
    return this.#spawn();
  }

  #spawn(): PoolThread {
    let worker: Worker;
    const { port1, port2 } = new MessageChannel();
    const signals = new Int32Array(new SharedArrayBuffer(SIGNAL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
    const workerData: RunnerData = { port: port2, signals };
    try {
      worker = new Worker(RUNNER_URL, {
        workerData,
        transferList: [port2],
        ...(this.#options.resourceLimits ? { resourceLimits: this.#options.resourceLimits } : {}),
      });
    } catch (error) {
      port1.close();
      throw new WorkerStartError(error);
    }
    const thread = new PoolThread(worker, port1, signals);
    this.#threads.add(thread);
    port1.on('message', (message: WorkerMessage) => {
      this.#onMessage(thread, message);
      // Whatever else has arrived is read now, without a message event per message each.
      this.#drain(thread);
    });
    port1.on('messageerror', (error: Error) =>
      this.#stopForProtocol(thread, new SerializationError('message', { cause: error })),
    );
    port1.on('close', () => this.#onChannelClosed(thread, false));
    // Node's own channel carries one thing the pool listens for; whatever else task code posts there is not ours.
    worker.on('message', (message: unknown) => {
      if (message === CHANNEL_CLOSED) this.#onChannelClosed(thread, true);
    });
    worker.on('error', (error: Error) => {
      thread.crash = error;
    });
    worker.on('exit', (code: number) => this.#onExit(thread, code));
    // The worker handle alone keeps the process alive while a task runs (see #takeThread / #feed).
    // After the listeners: adding a 'message' listener refs a port again.
    port1.unref();
    return thread;
  }

  /**
   * Posts the task to the thread, as its current task or as an offer; returns the error instead
   * when its input cannot be copied.
   */
  #dispatch(thread: PoolThread, execution: WorkerExecution, offer: boolean): Error | undefined {
    const { spec } = execution;
    const ref = spec.invokable as ModuleReference;
    const task = spec.task;
    const message: RunMessage = [
      Kind.run,
      execution.id,
      ref.module,
      ref.export,
      spec.input,
      task.executionId,
      task.jobId,
      task.allocationId,
      task.name,
      task.attempt,
      this.#logLevel ?? 0,
      offer ? 1 : 0,
      task.fencingToken,
    ];
    // The offer slot is set before the message can be read, so the thread's claim finds it.
    if (offer) Atomics.store(thread.signals, OFFER, execution.id);
    try {
      thread.port.postMessage(message);
    } catch (error) {
      if (offer) Atomics.store(thread.signals, OFFER, 0);
      return new SerializationError('input', { cause: error });
    }
    Atomics.add(thread.signals, WAKEUPS, 1);
    Atomics.notify(thread.signals, WAKEUPS, 1);
    if (offer) {
      thread.offered = execution;
      this.#offerThread = thread;
      execution.phase = 'offered';
    } else {
      thread.state = 'busy';
      thread.current = execution;
      thread.currentSince = performance.now();
      execution.phase = 'running';
    }
    return undefined;
  }

  /**
   * Offers the oldest waiting task to the busy thread that has run its current task the longest,
   * when every thread is busy and none is outstanding.
   */
  #makeOffer(): void {
    if (this.#offerThread !== undefined || this.#queue.size === 0 || this.#closing) return;
    if (this.#idle.length > 0 || this.#threads.size < this.#options.maxThreads) return;
    let target: PoolThread | undefined;
    for (const thread of this.#threads) {
      if (thread.state !== 'busy' || thread.current === undefined || thread.offered !== undefined) continue;
      // A slot still holding an id is a task given to the thread and not yet claimed: wait for it.
      if (Atomics.load(thread.signals, OFFER) !== 0) continue;
      if (target === undefined || thread.currentSince < target.currentSince) target = thread;
    }
    if (target === undefined) return;
    for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
      const error = this.#dispatch(target, next, true);
      if (!error) return;
      next.settle(false, error);
    }
  }

  /** The task the thread had been offered becomes its current task: its previous one has ended. */
  #commitOffer(thread: PoolThread, execution: WorkerExecution): void {
    thread.offered = undefined;
    if (this.#offerThread === thread) this.#offerThread = undefined;
    thread.current = execution;
    thread.currentSince = performance.now();
    execution.phase = 'running';
  }

  /** Gives a free live thread the oldest waiting task, or parks it as idle. */
  #feed(thread: PoolThread): void {
    if (thread.state === 'exiting') return;
    const offerThread = this.#offerThread;
    if (offerThread !== undefined) {
      // The offered task is the oldest waiting one: take it back for this thread, unless its
      // thread has claimed it already (its previous task ended; the host has not heard yet).
      const offered = offerThread.offered as WorkerExecution;
      this.#offerThread = undefined;
      if (takeBack(offerThread, offered)) {
        offerThread.offered = undefined;
        const error = this.#dispatch(thread, offered, false);
        if (!error) {
          this.#makeOffer();
          return;
        }
        offered.settle(false, error);
      }
    }
    for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
      const error = this.#dispatch(thread, next, false);
      if (!error) {
        this.#makeOffer();
        return;
      }
      next.settle(false, error);
    }
    if (this.#closing) {
      void this.#terminate(thread, undefined);
      return;
    }
    thread.state = 'idle';
    thread.idleSince = performance.now();
    this.#idle.push(thread);
    if (thread.referenced) {
      thread.referenced = false;
      thread.worker.unref();
    }
    this.#armReaper();
  }

  /** Starts threads for waiting tasks while the pool has room. */
  #pump(): void {
    while (this.#queue.size > 0 || this.#offerThread !== undefined) {
      let thread: PoolThread | undefined;
      try {
        thread = this.#takeThread();
      } catch (error) {
        // No thread can be started: fail the task it was for rather than let it wait for nothing.
        const offered = this.#offerThread?.offered;
        if (offered === undefined || !this.#withdraw(offered, error as Error)) {
          this.#queue.shift()?.settle(false, error);
        }
        continue;
      }
      if (thread === undefined) return;
      this.#feed(thread);
    }
  }

  #onMessage(thread: PoolThread, message: WorkerMessage): void {
    const problem = checkWorkerMessage(message);
    if (problem !== undefined) {
      this.#stopForProtocol(
        thread,
        new ProtocolError(`worker thread ${thread.worker.threadId} sent a malformed message: ${problem}`),
      );
      return;
    }
    const execution = thread.current;
    if (execution === undefined || message[1] !== execution.id) {
      // Log records of a task that already ended are dropped; anything else about it is a bug.
      if (message[0] === Kind.log) return;
      this.#stopForProtocol(
        thread,
        new ProtocolError(
          `worker thread ${thread.worker.threadId} sent '${kindName(message[0])}' for task ${message[1]}, which it is not running`,
        ),
      );
      return;
    }
    switch (message[0]) {
      case Kind.running:
        execution.markRunning();
        return;
      case Kind.result:
        this.#ended(thread);
        execution.settle(true, message[2]);
        return;
      case Kind.error:
        this.#ended(thread);
        execution.settle(false, deserializeError(message[2]));
        return;
      case Kind.uncloneable:
        this.#ended(thread);
        execution.settle(false, new SerializationError('result', { cause: deserializeError(message[2]) }));
        return;
      case Kind.started:
        execution.markStarted();
        return;
      case Kind.log:
        writeLog(execution, message);
        return;
    }
  }

  /** The thread's current task has ended: it goes on with its offer, or takes the next task. */
  #ended(thread: PoolThread): void {
    thread.current = undefined;
    const offered = thread.offered;
    if (offered !== undefined && thread.state !== 'exiting') {
      // The thread claims it (or has): from now on only a cancel can take it back.
      this.#commitOffer(thread, offered);
      this.#makeOffer();
    } else {
      this.#feed(thread);
    }
  }

  /**
   * The task channel of a thread closed. The host never closes its end of a live thread's channel,
   * so either task code closed `workerData.port` (the thread can no longer report anything: a
   * protocol violation), or the thread is dying (its `'exit'` follows in a moment, and its task must
   * fail with `WorkerExitedError`, not a protocol error). `confirmed`: the runner said it is alive
   * and saw the close; otherwise a busy thread gets {@link CHANNEL_CLOSE_GRACE_MS} to exit first.
   * An idle thread is stopped at once either way: it has no task to misreport, and must not be
   * given one.
   */
  #onChannelClosed(thread: PoolThread, confirmed: boolean): void {
    if (thread.state === 'exiting') return;
    if (!confirmed && thread.state === 'busy') {
      if (thread.channelCloseTimer === undefined) {
        thread.channelCloseTimer = setTimeout(
          () => this.#onChannelClosed(thread, true),
          CHANNEL_CLOSE_GRACE_MS,
        );
        thread.channelCloseTimer.unref();
      }
      return;
    }
    clearTimeout(thread.channelCloseTimer);
    thread.channelCloseTimer = undefined;
    const running = thread.current;
    this.#stopForProtocol(
      thread,
      new ProtocolError(
        `worker thread ${thread.worker.threadId} closed its channel to the executor (workerData.port) ` +
          (running === undefined
            ? 'while idle'
            : `while running task ${running.spec.task.executionId}; its outcome can no longer be reported`),
      ),
    );
  }

  /** The protocol is broken: the thread's state is unknown, so it is replaced and its task fails. */
  #stopForProtocol(thread: PoolThread, error: Error): void {
    void this.#terminate(thread, error);
  }

  #terminate(thread: PoolThread, reason: Error | undefined): Promise<void> {
    if (thread.state === 'exiting') return thread.exited;
    if (thread.state === 'idle') this.#idle.splice(this.#idle.indexOf(thread), 1);
    thread.state = 'exiting';
    thread.terminatedAt = performance.now();
    thread.stopReason = reason;
    // Keep the process alive until the thread is really gone, so a pending close() can finish.
    if (!thread.referenced) {
      thread.referenced = true;
      thread.worker.ref();
    }
    thread.worker.terminate().catch(() => undefined);
    return thread.exited;
  }

  #drain(thread: PoolThread): void {
    for (let entry = receiveMessageOnPort(thread.port); entry; entry = receiveMessageOnPort(thread.port)) {
      this.#onMessage(thread, entry.message as WorkerMessage);
    }
  }

  #onExit(thread: PoolThread, exitCode: number): void {
    if (thread.state === 'idle') this.#idle.splice(this.#idle.indexOf(thread), 1);
    // 'exiting' first: a result read below must not hand this dead thread another task.
    thread.state = 'exiting';
    clearTimeout(thread.channelCloseTimer);
    thread.channelCloseTimer = undefined;
    // Messages the thread posted before it died come first: a result it sent still counts.
    this.#drain(thread);
    thread.port.close();
    this.#threads.delete(thread);
    // An offer the thread never claimed goes back to the queue: it is still the oldest waiting task.
    const offered = thread.offered;
    thread.offered = undefined;
    if (this.#offerThread === thread) this.#offerThread = undefined;
    if (offered !== undefined && takeBack(thread, offered)) this.#requeue(offered, thread);
    else if (offered !== undefined) {
      // Claimed: it ran here, after the task before it had ended. That task's outcome was read
      // above, unless it was lost on the way (a closed channel): then it ends with the thread.
      const previous = thread.current;
      thread.current = undefined;
      if (previous !== undefined && previous !== offered) {
        previous.settle(false, exitError(thread, previous, exitCode));
      }
      this.#commitOffer(thread, offered);
    }
    const execution = thread.current;
    thread.current = undefined;
    if (execution !== undefined) {
      const taken = Atomics.load(thread.signals, TAKEN);
      // A task the thread never took (it died of what its previous task left behind) never ran:
      // it waits again, first in line. A thread that dies before taking any task cannot start at
      // all; its task fails, or a broken runner would be restarted for ever.
      if (taken !== 0 && taken !== execution.id) this.#requeue(execution, thread);
      else execution.settle(false, exitError(thread, execution, exitCode));
    }
    thread.markExited();
    if (!this.#closing) this.#pump();
  }

  /** Puts a task that never ran back at the head of the queue (or ends it if it was stopped). */
  #requeue(execution: WorkerExecution, thread: PoolThread): void {
    const reason = execution.cancelReason ?? (this.#closing ? thread.stopReason : undefined);
    if (reason !== undefined) {
      execution.settle(false, reason);
      return;
    }
    execution.phase = 'queued';
    this.#queue.unshift(execution);
  }

  #armReaper(): void {
    if (this.#reapTimer !== undefined || this.#options.idleTimeoutMs === Number.POSITIVE_INFINITY) return;
    this.#reapTimer = setTimeout(() => this.#reap(), this.#options.idleTimeoutMs);
    this.#reapTimer.unref();
  }

  #reap(): void {
    this.#reapTimer = undefined;
    const timeout = this.#options.idleTimeoutMs;
    const now = performance.now();
    let nextDue = Number.POSITIVE_INFINITY;
    for (const thread of [...this.#idle]) {
      const idleFor = now - thread.idleSince;
      // Timers fire up to a millisecond early by our clock; treat that as due.
      if (idleFor >= timeout - 1) void this.#terminate(thread, undefined);
      else nextDue = Math.min(nextDue, timeout - idleFor);
    }
    if (nextDue !== Number.POSITIVE_INFINITY) {
      this.#reapTimer = setTimeout(() => this.#reap(), Math.ceil(nextDue));
      this.#reapTimer.unref();
    }
  }
}

/** Takes a task offered to (or given to, not yet claimed by) `thread` back; false if it was claimed. */
function takeBack(thread: PoolThread, execution: WorkerExecution): boolean {
  return Atomics.compareExchange(thread.signals, OFFER, execution.id, 0) === execution.id;
}

/** Why a task ends with its thread: the pool's reason for stopping it, or the thread's own exit. */
function exitError(thread: PoolThread, execution: WorkerExecution, exitCode: number): Error {
  return (
    thread.stopReason ??
    new WorkerExitedError(
      { exitCode, executionId: execution.spec.task.executionId },
      thread.crash === undefined ? undefined : { cause: thread.crash },
    )
  );
}

function levelOf(spec: LaunchSpec): number {
  try {
    const value = (spec.logger as { levelVal?: unknown }).levelVal;
    return typeof value === 'number' ? value : 0;
  } catch {
    return 0;
  }
}

function stoppedError(execution: WorkerExecution, how: string): TaskCancelledError {
  const { executionId } = execution.spec.task;
  return new TaskCancelledError(executionId, `task ${executionId} was stopped ${how}`);
}

/** Writes a worker's log record through the task's host logger, errors rebuilt. */
function writeLog(execution: WorkerExecution, [, , level, bindings, fields, msg]: LogMessage): void {
  const name = LEVEL_NAMES[level];
  if (name === undefined) return;
  try {
    let logger = execution.spec.logger;
    for (const child of bindings) logger = logger.child(child);
    let obj = fields;
    if (obj && isSerializedError(obj.err)) obj = { ...obj, err: deserializeError(obj.err) };
    if (obj) logger[name](obj, msg);
    else logger[name](msg ?? '');
  } catch {
    // A logger that throws must not break the task.
  }
}
