import { receiveMessageOnPort } from 'node:worker_threads';
import type { LaunchSpec, ModuleReference } from '@taskwarden/sdk';
import {
  ExecutorClosedError,
  InvalidInvokableError,
  ProtocolError,
  SerializationError,
  TaskCancelledError,
} from '@taskwarden/sdk';
import { deserializeError, isModuleReference, serializeError } from '@taskwarden/sdk/internal';
import { WorkerExitedError } from '../errors.js';
import { levelOf, loggerInfoOf, relayLog } from './log-relay.js';
import { isUnclaimed, OfferBook } from './offer-protocol.js';
import type { TreeKillSetup } from './process-tree/tree-kill-setup.js';
import type { LoggerInfo, RunMessage, WorkerMessage } from './protocol.js';
import { checkWorkerMessage, Kind, kindName, TAKEN, WAKEUPS } from './protocol.js';
import { TaskQueue } from './task-queue.js';
import type { PoolThread, ThreadEvents } from './thread-lifecycle.js';
import { ThreadLifecycle } from './thread-lifecycle.js';
import type { ExecutionControl } from './worker-execution.js';
import { WorkerExecution } from './worker-execution.js';
import type { ResolvedWorkerExecutorOptions } from './worker-executor-options.js';
import { captureWorkerStack } from './worker-stack.js';

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

const noop = (): void => undefined;
const NO_LOGGER_INFO: LoggerInfo = Object.freeze({ bindings: {}, bindsTask: false, version: '' });

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
 * The thread pool behind {@link WorkerExecutor}: it routes tasks to threads and messages to tasks.
 * Threads come from {@link ThreadLifecycle} (start, exit, counting); a waiting task may be offered
 * to a busy thread ahead of time (see `offer-protocol.ts`: the offer stays a waiting task, revocable,
 * so tasks still start first come, first served, and a cancelled offer is never invoked); log
 * records go through `log-relay.ts`.
 * @internal
 */
export class WorkerPool implements ExecutionControl, ThreadEvents {
  readonly #threads: ThreadLifecycle;
  readonly #queue = new TaskQueue<WorkerExecution>();
  readonly #offers = new OfferBook<WorkerExecution, PoolThread>();
  #nextId = 0;
  #logLevel: number | undefined;
  #loggerInfo: LoggerInfo | undefined;
  #closing: Promise<void> | undefined;

  /** `treeKill`: how the processes tasks spawn are tracked and killed. */
  constructor(options: ResolvedWorkerExecutorOptions, treeKill: TreeKillSetup) {
    this.#threads = new ThreadLifecycle(options, this, () => this.#loggerInfo ?? NO_LOGGER_INFO, treeKill);
  }

  get stats(): WorkerPoolStats {
    const threads = this.#threads.size;
    const idle = this.#threads.idleCount;
    const exiting = this.#threads.exitingCount;
    return {
      threads,
      busy: threads - idle - exiting,
      idle,
      exiting,
      queued: this.#queue.size + (this.#offers.outstanding ? 1 : 0),
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
    if (this.#logLevel === undefined) {
      this.#logLevel = levelOf(spec);
      this.#loggerInfo = loggerInfoOf(spec);
    }
    const execution = new WorkerExecution(this, spec, ++this.#nextId);
    const waiting = this.#queue.size > 0 || this.#offers.outstanding;
    const thread = waiting ? undefined : this.#threads.take();
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
    if (thread.current !== execution || thread.state === 'exiting') {
      return this.#threads.terminate(thread, stoppedError(execution, 'by terminating its worker thread'));
    }
    // A task is only ever stopped by its own cancellation: the thread's offer must not go down with
    // it (see offer-protocol.ts).
    const verdict = this.#offers.beforeStop(thread);
    // The thread took its offer, so this task has ended; its outcome is on the way.
    if (verdict.kind === 'claimed') return execution.result.then(noop, noop);
    const stopped = this.#threads.terminate(
      thread,
      stoppedError(execution, 'by terminating its worker thread'),
    );
    if (verdict.kind === 'revoked') {
      // First in line again; after the terminate, so it is not offered straight back to this thread.
      this.#requeue(verdict.task);
      this.#makeOffer();
    }
    return stopped;
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
    if (thread === undefined || thread.state === 'exiting') return false;
    const wasOffered = thread.offered === execution;
    if (!this.#offers.revoke(thread, execution)) return false;
    execution.settle(false, reason);
    if (wasOffered) this.#makeOffer();
    else {
      // Given to the thread when its previous task ended, not claimed yet: the thread is free.
      thread.current = undefined;
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
    const offered = this.#offers.task;
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
    this.#threads.close();
    const closed = new ExecutorClosedError(EXECUTOR_NAME);
    const offered = this.#offers.task;
    if (offered) this.#withdraw(offered, closed);
    for (let execution = this.#queue.shift(); execution; execution = this.#queue.shift()) {
      execution.settle(false, closed);
    }
    await Promise.all([...this.#threads.threads].map((thread) => this.#threads.terminate(thread, closed)));
  }

  #threadOf(execution: WorkerExecution): PoolThread | undefined {
    if (execution.phase !== 'running' && execution.phase !== 'offered') return undefined;
    for (const thread of this.#threads.threads) {
      if (thread.current === execution || thread.offered === execution) return thread;
    }
    return undefined;
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
    if (offer) this.#offers.prepare(thread, execution);
    try {
      thread.port.postMessage(message);
    } catch (error) {
      if (offer) this.#offers.abandon(thread);
      return new SerializationError('input', { cause: error });
    }
    Atomics.add(thread.signals, WAKEUPS, 1);
    Atomics.notify(thread.signals, WAKEUPS, 1);
    if (offer) {
      this.#offers.place(thread, execution);
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
    if (this.#offers.outstanding || this.#queue.size === 0 || this.#closing) return;
    if (!this.#threads.saturated) return;
    let target: PoolThread | undefined;
    for (const thread of this.#threads.threads) {
      if (thread.state !== 'busy' || thread.current === undefined || thread.offered !== undefined) continue;
      // A slot still holding an id is a task given to the thread and not yet claimed: wait for it.
      if (isUnclaimed(thread.signals)) continue;
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
  #commitOffer(thread: PoolThread): boolean {
    const execution = this.#offers.commit(thread);
    if (execution === undefined) return false;
    thread.current = execution;
    thread.currentSince = performance.now();
    execution.phase = 'running';
    return true;
  }

  /** Gives a free live thread the oldest waiting task, or parks it as idle. */
  #feed(thread: PoolThread): void {
    if (thread.state === 'exiting') return;
    // The offered task is the oldest waiting one: take it back for this thread, unless its thread
    // has claimed it already (its previous task ended; the host has not heard yet).
    const offered = this.#offers.reclaim();
    if (offered !== undefined) {
      const error = this.#dispatch(thread, offered, false);
      if (!error) {
        this.#makeOffer();
        return;
      }
      offered.settle(false, error);
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
      void this.#threads.terminate(thread, undefined);
      return;
    }
    this.#threads.park(thread);
  }

  /** Starts threads for waiting tasks while the pool has room. */
  #pump(): void {
    while (this.#queue.size > 0 || this.#offers.outstanding) {
      let thread: PoolThread | undefined;
      try {
        thread = this.#threads.take();
      } catch (error) {
        // No thread can be started: fail the task it was for rather than let it wait for nothing.
        const offered = this.#offers.task;
        if (offered === undefined || !this.#withdraw(offered, error as Error)) {
          this.#queue.shift()?.settle(false, error);
        }
        continue;
      }
      if (thread === undefined) return;
      this.#feed(thread);
    }
  }

  /** @internal see {@link ThreadEvents.message} */
  message(thread: PoolThread, message: WorkerMessage): void {
    this.#onMessage(thread, message);
    // Whatever else has arrived is read now, without a message event per message each.
    this.#drain(thread);
  }

  /** @internal see {@link ThreadEvents.drain} */
  drain(thread: PoolThread): void {
    this.#drain(thread);
  }

  /** @internal see {@link ThreadEvents.messageError} */
  messageError(thread: PoolThread, error: Error): void {
    this.#stopForProtocol(thread, new SerializationError('message', { cause: error }));
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
    // About the thread, not a task: leftovers of an ended task spawn too.
    if (message[0] === Kind.spawned) {
      thread.tree.track(message[2]);
      return;
    }
    if (message[0] === Kind.reaped) {
      thread.tree.untrack(message[2]);
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
        relayLog(execution.spec, message);
        return;
      case Kind.progress:
        execution.reportProgress(message[2]);
        // Delivered: the thread may post the next report (see progress-channel.ts).
        thread.port.postMessage([Kind.progressAck, execution.id]);
        return;
    }
  }

  /** The thread's current task has ended: it goes on with its offer, or takes the next task. */
  #ended(thread: PoolThread): void {
    thread.current = undefined;
    // The thread claims its offer (or has): from now on only a cancel can take it back.
    if (thread.state !== 'exiting' && this.#commitOffer(thread)) this.#makeOffer();
    else this.#feed(thread);
  }

  /**
   * The task channel of a thread closed. The host never closes its end of a live thread's channel,
   * so either task code closed `workerData.port` (the thread can no longer report anything: a
   * protocol violation), or the thread is dying (its `'exit'` follows in a moment, and its task must
   * fail with `WorkerExitedError`, not a protocol error). `confirmed`: the runner said it is alive
   * and saw the close; otherwise a busy thread gets {@link CHANNEL_CLOSE_GRACE_MS} to exit first.
   * An idle thread is stopped at once either way: it has no task to misreport, and must not be
   * given one.
   * @internal see {@link ThreadEvents.channelClosed}
   */
  channelClosed(thread: PoolThread, confirmed: boolean): void {
    if (thread.state === 'exiting') return;
    if (!confirmed && thread.state === 'busy') {
      if (thread.channelCloseTimer === undefined) {
        thread.channelCloseTimer = setTimeout(() => this.channelClosed(thread, true), CHANNEL_CLOSE_GRACE_MS);
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
    void this.#threads.terminate(thread, error);
  }

  #drain(thread: PoolThread): void {
    for (let entry = receiveMessageOnPort(thread.port); entry; entry = receiveMessageOnPort(thread.port)) {
      this.#onMessage(thread, entry.message as WorkerMessage);
    }
  }

  /** @internal see {@link ThreadEvents.exited} */
  exited(thread: PoolThread, exitCode: number): void {
    // Messages the thread posted before it died come first: a result it sent still counts.
    this.#drain(thread);
    // An offer the thread never claimed goes back to the queue: it is still the oldest waiting task.
    const offered = thread.offered;
    if (offered !== undefined && this.#offers.revoke(thread, offered)) this.#requeue(offered, thread);
    else if (offered !== undefined) {
      // Claimed: it ran here, after the task before it had ended. That task's outcome was read
      // above, unless it was lost on the way (a closed channel): then it ends with the thread.
      const previous = thread.current;
      thread.current = undefined;
      if (previous !== undefined && previous !== offered) {
        previous.settle(false, exitError(thread, previous, exitCode));
      }
      this.#commitOffer(thread);
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
    if (!this.#closing) this.#pump();
  }

  /** Puts a task that never ran back at the head of the queue (or ends it if it was stopped). */
  #requeue(execution: WorkerExecution, thread?: PoolThread): void {
    const reason = execution.cancelReason ?? (this.#closing ? thread?.stopReason : undefined);
    if (reason !== undefined) {
      execution.settle(false, reason);
      return;
    }
    execution.phase = 'queued';
    this.#queue.unshift(execution);
  }
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

function stoppedError(execution: WorkerExecution, how: string): TaskCancelledError {
  const { executionId } = execution.spec.task;
  return new TaskCancelledError(executionId, `task ${executionId} was stopped ${how}`);
}
