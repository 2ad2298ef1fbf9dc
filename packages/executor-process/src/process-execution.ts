/**
 * One task of a {@link ProcessExecutor}, from the queue to the moment its child is gone.
 * @internal
 * @module
 */
import type { LaunchSpec } from '@taskwarden/sdk';
import {
  BaseExecution,
  ProtocolError,
  SerializationError,
  TaskCancelledError,
  toError,
} from '@taskwarden/sdk';
import { deserializeError, serializeError } from '@taskwarden/sdk/internal';
import type { ChildGoneInfo, ChildProcessHandle, ChildSink } from './child-process-handle.js';
import { ProcessExitedError } from './errors.js';
import type { ChildMessage } from './protocol.js';

/**
 * Where a task is:
 * - `queued`: waiting for a process (`maxProcesses` reached);
 * - `launching`: the run message is sent, the child loads the module;
 * - `started`: the module is loaded (`started` resolved), `restore` may run;
 * - `running`: `invoke` runs;
 * - `stopping`: the outcome is known or a stop was requested; waiting for the process to be gone;
 * - `done`: `result` has settled.
 */
type Phase = 'queued' | 'launching' | 'started' | 'running' | 'stopping' | 'done';

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: Error };

/** What an execution needs from its executor. @internal */
export interface ExecutionHost {
  readonly killGraceMs: number;
  readonly diagnoseTimeoutMs: number;
  /** Removes a queued execution; false if it was not queued. */
  dequeue(execution: ProcessExecution): boolean;
  /**
   * The task is over and its process may serve another (`reusable`). Returns true when the executor
   * keeps the process, false when it retires it (the caller then waits for `handle.gone`).
   */
  release(handle: ChildProcessHandle, reusable: boolean): boolean;
}

/** @internal */
export class ProcessExecution extends BaseExecution implements ChildSink {
  readonly id: number;

  readonly #host: ExecutionHost;
  /** The encoded 'run' message (made by `launch()`, so bad input fails before any process is taken). */
  #runFrame: Buffer | undefined;
  #phase: Phase = 'queued';
  #handle: ChildProcessHandle | undefined;
  /** cancel() or kill() was called: the process is never reused. */
  #cancelled = false;
  #killing: Promise<void> | undefined;
  /** What the child reported (a result), kept until the process is gone when that must come first. */
  #outcome: Outcome | undefined;
  /** Why the executor gave up on the child (a protocol error). */
  #failure: Error | undefined;
  /** The child's last uncaught exception, reported just before it died. */
  #uncaught: Error | undefined;

  constructor(spec: LaunchSpec, id: number, runFrame: Buffer, host: ExecutionHost) {
    super(spec);
    this.id = id;
    this.#runFrame = runFrame;
    this.#host = host;
  }

  /** The process running the task, if any. */
  get handle(): ChildProcessHandle | undefined {
    return this.#handle;
  }

  /** Runs the task on `handle` (called by the executor when a process is free). */
  assign(handle: ChildProcessHandle): void {
    if (this.#phase !== 'queued') return;
    this.#handle = handle;
    this.#phase = 'launching';
    handle.attach(this, this.spec.logger, this.id);
    const frame = this.#runFrame as Buffer;
    this.#runFrame = undefined; // the child has the input now; do not keep a second copy
    handle.sendFrame(frame);
  }

  /** The process for this task could not be started. */
  failToLaunch(error: Error): void {
    if (this.#phase !== 'queued') return;
    this.#settle({ ok: false, error });
  }

  /** Drops a queued task without ever spawning (cancel, cancelJob, close). */
  dropQueued(reason: Error): boolean {
    if (this.#phase !== 'queued') return false;
    this.#host.dequeue(this);
    this.#settle({ ok: false, error: reason });
    return true;
  }

  protected onCancel(reason: Error): void {
    try {
      if (this.#cancelled || this.#phase === 'done') return;
      this.#cancelled = true;
      if (this.dropQueued(reason)) return;
      if (this.#phase === 'stopping') return;
      this.#handle?.send({ type: 'cancel', id: this.id, reason: serializeError(reason) });
    } catch (error) {
      // cancel() never throws; a child that cannot be told is stopped by the ladder's hard stop.
      this.spec.logger.warn(
        { err: toError(error) },
        'could not send the cancel request to the child process',
      );
    }
  }

  kill(): Promise<void> {
    if (this.#killing) return this.#killing;
    if (this.#phase === 'done') return Promise.resolve();
    this.#cancelled = true;
    if (this.dropQueued(this.cancelReason ?? new TaskCancelledError(this.spec.task.executionId))) {
      return Promise.resolve();
    }
    const handle = this.#handle as ChildProcessHandle;
    // Throws when the stop cannot even begin (signalling failed): the caller escalates.
    handle.terminate(this.#host.killGraceMs);
    this.#phase = 'stopping';
    // The sink stays attached: the handle reports the end through onGone().
    this.#killing = handle.gone.then(() => undefined);
    return this.#killing;
  }

  async diagnose(): Promise<string | undefined> {
    const handle = this.#handle;
    if (!handle || this.#phase === 'queued' || this.#phase === 'done') return undefined;
    const stack = await handle.requestStack(this.#host.diagnoseTimeoutMs);
    return stack === undefined ? undefined : `child process ${handle.pid}, main thread:\n${stack}`;
  }

  onMessage(message: Exclude<ChildMessage, { type: 'log' }>): void {
    if (message.type === 'uncaught') {
      this.#uncaught = deserializeError(message.error);
      return;
    }
    // A result racing a stop, or anything after the end: the stop decides the outcome.
    if (this.#phase === 'done' || this.#phase === 'stopping' || this.#phase === 'queued') return;
    if (message.id !== this.id) {
      this.onProtocolError(
        new ProtocolError(
          `child sent '${message.type}' for task ${message.id} while running task ${this.id}`,
        ),
      );
      return;
    }
    switch (message.type) {
      case 'started':
        if (this.#phase !== 'launching') {
          this.#outOfOrder(message.type);
          return;
        }
        this.#phase = 'started';
        this.markStarted();
        return;
      case 'running':
        if (this.#phase !== 'started') {
          this.#outOfOrder(message.type);
          return;
        }
        this.#phase = 'running';
        this.markRunning();
        return;
      case 'result': {
        // A value means invoke ran, which the child announces first ('running'): a value before that
        // is a protocol error, never a FINISHED task that skipped RUNNING. A failure may come in any
        // phase: the module failed to load (DEPLOYING) or restore threw (INITIALIZING).
        if (message.ok && this.#phase !== 'running') {
          this.#outOfOrder(message.type);
          return;
        }
        let outcome: Outcome;
        if (message.ok) {
          outcome = { ok: true, value: message.value };
        } else {
          const error = deserializeError(message.error);
          outcome = {
            ok: false,
            error: message.unserializable ? new SerializationError('result', { cause: error }) : error,
          };
        }
        this.#finishWith(outcome, !this.#cancelled);
        return;
      }
    }
  }

  onProtocolError(error: ProtocolError): void {
    if (this.#phase === 'done' || this.#phase === 'stopping') return;
    this.#failure = error;
    this.#phase = 'stopping';
    // No grace for a child that no longer speaks the protocol; onGone() settles.
    this.#handle?.destroy();
  }

  #outOfOrder(type: string): void {
    this.onProtocolError(
      new ProtocolError(`child sent '${type}' out of order (task ${this.id} is ${this.#phase})`),
    );
  }

  /** The child reported an outcome: settle now if the process stays, else once it is gone. */
  #finishWith(outcome: Outcome, reusable: boolean): void {
    const handle = this.#handle as ChildProcessHandle;
    this.#outcome = outcome;
    this.#phase = 'stopping';
    // release() hands a kept process to the next task only a microtask later, after this detach.
    if (this.#host.release(handle, reusable && handle.usable)) {
      handle.detach();
      this.#settle(outcome);
      return;
    }
    // The process is being retired (still attached): onGone() settles once it and its group are gone.
  }

  onGone(info: ChildGoneInfo): void {
    if (this.#phase === 'done') return;
    if (this.#outcome) {
      this.#settle(this.#outcome);
      return;
    }
    if (info.spawnError) {
      this.#settle({ ok: false, error: info.spawnError });
      return;
    }
    if (this.#failure) {
      this.#settle({ ok: false, error: this.#failure });
      return;
    }
    const error = new ProcessExitedError(
      {
        pid: info.pid,
        exitCode: info.exitCode,
        signal: info.signal,
        stderrTail: info.stderrTail,
        killed: this.#killing !== undefined,
      },
      this.#uncaught ? { cause: this.#uncaught } : undefined,
    );
    this.#settle({ ok: false, error });
  }

  #settle(outcome: Outcome): void {
    if (this.#phase === 'done') return;
    this.#phase = 'done';
    this.#runFrame = undefined;
    if (outcome.ok) this.resolve(outcome.value);
    else this.reject(outcome.error);
  }
}
