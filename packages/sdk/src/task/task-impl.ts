import {
  CancellationArmingError,
  ErrorCode,
  TaskCancelledError,
  TaskwardenError,
  toError,
} from '../errors.js';
import { ExecutionState, isTerminal } from '../execution-state.js';
import type {
  CancellationHandle,
  CancellationStrategy,
  CancellationTarget,
  CancellationTimings,
} from '../interfaces/cancellation-strategy.js';
import type { Execution, Executor, LaunchSpec } from '../interfaces/executor.js';
import type { InvokableReference, TaskInfo } from '../interfaces/invokable.js';
import type { Logger } from '../interfaces/logger.js';
import type { Task, TaskOutcome } from '../interfaces/task.js';
import { ATTACH_EXECUTION, EXECUTION_KEY, ON_DONE, REPORT_OUTCOME } from '../internal/fast-path.js';
import { emitSafely } from '../runtime/emit-safely.js';
import { formatExecutionId } from '../runtime/execution-id.js';
import type { RuntimeEventEmitterImpl } from '../runtime/runtime-event-emitter.js';

/** What a task needs from the runtime that owns it. @internal */
export interface TaskHost {
  /** The runtime's emitter, which knows whether `taskStateChanged` has listeners (asked per transition). */
  readonly events: RuntimeEventEmitterImpl;
  readonly logger: Logger;
  readonly strategy: CancellationStrategy;
  /** Whether transitions are logged (the level check is hoisted out of the hot path). */
  readonly logTransitions: boolean;
  /** The level transitions are logged at. */
  readonly transitionLogLevel: 'info' | 'debug';
  /** Called once when `done` resolves. */
  onDone(task: TaskImpl): void;
  /** Reports a fatal error (handler, health, event); never throws. */
  onFatal(error: Error, task: TaskImpl): void;
}

/** Fields of a validated descriptor (flat: one object per task). @internal */
export interface TaskInit extends Omit<TaskInfo, 'executionId'> {
  /** The execution id's index key: a number for a generated id (formatted on first read). */
  readonly executionKey: string | number;
  readonly executorKey: string;
  readonly executor: Executor;
  readonly invokable: InvokableReference;
  readonly input: unknown;
  readonly timings: CancellationTimings;
  readonly signal: AbortSignal | undefined;
}

const { CREATED, DEPLOYING, INITIALIZING, RUNNING, FINISHED, CANCELING, CANCELED, FAILED } = ExecutionState;

/**
 * One task: the state machine of the design's "Task lifecycle".
 *
 * Everything runs on one thread, yet every transition is a compare-and-set against the state the
 * caller observed, because listeners of `taskStateChanged` and executor callbacks can re-enter
 * (`cancel()` from a listener, `fail()` while launching) and every await is a point where the
 * state may have moved.
 * @internal
 */
export class TaskImpl implements Task {
  readonly jobId: string;
  readonly allocationId: string;
  readonly name: string;
  readonly executor: string;
  readonly done: Promise<TaskOutcome>;

  /** The runtime's per-job list runs through these (intrusive: no hashing per task). @internal */
  jobRecord: object | undefined = undefined;
  /** @internal */
  jobPrev: TaskImpl | undefined = undefined;
  /** @internal */
  jobNext: TaskImpl | undefined = undefined;

  #state: ExecutionState = CREATED;
  #executionId: string | undefined;
  #failureCause: Error | undefined;
  #cancellationRequested = false;
  #diagnostic: Error | undefined;
  #result: unknown;

  readonly #host: TaskHost;
  readonly #init: TaskInit;
  #logger: Logger | undefined;
  #resolveDone!: (outcome: TaskOutcome) => void;
  #execution: Execution | undefined;
  #ladder: CancellationHandle | undefined;
  /** Work must be stopped but there is no execution yet (cancelled while launching). */
  #stopPending = false;
  /** The execution handed over through {@link ATTACH_EXECUTION} during `launch()`, if any. */
  #attached: Execution | undefined;
  #workStopped = false;
  #abandoned = false;
  #settled = false;
  #onAbort: (() => void) | undefined;
  /** Called synchronously once `done` has resolved (the slot table's detach, through {@link ON_DONE}). */
  #doneCallback: ((arg: unknown) => void) | undefined;
  #doneCallbackArg: unknown;

  constructor(init: TaskInit, host: TaskHost) {
    this.#init = init;
    this.#host = host;
    this.jobId = init.jobId;
    this.allocationId = init.allocationId;
    this.name = init.name;
    this.executor = init.executorKey;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  get executionId(): string {
    this.#executionId ??= formatExecutionId(this.#init.executionKey);
    return this.#executionId;
  }

  /** {@link EXECUTION_KEY}: what the slot table indexes this task by. @internal */
  get [EXECUTION_KEY](): string | number {
    return this.#init.executionKey;
  }

  get state(): ExecutionState {
    return this.#state;
  }

  /** Whether this task belongs to the runtime behind `host`. @internal */
  isHostedBy(host: TaskHost): boolean {
    return this.#host === host;
  }

  get failureCause(): Error | undefined {
    return this.#failureCause;
  }

  get cancellationRequested(): boolean {
    return this.#cancellationRequested;
  }

  /** The task's logger, bound to `{ jobId, executionId, task }`; created on first use. */
  get logger(): Logger {
    this.#logger ??= this.#host.logger.child({
      jobId: this.jobId,
      executionId: this.executionId,
      task: this.name,
    });
    return this.#logger;
  }

  /** Follows the descriptor's external signal; an already aborted signal cancels at once. */
  watchSignal(): void {
    const signal = this.#init.signal;
    if (!signal) return;
    if (signal.aborted) {
      this.cancel();
      return;
    }
    this.#onAbort = () => this.cancel();
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Hard-stops the work now, skipping the rest of the grace period (used by `close({ graceMs })`). */
  hardStop(): void {
    const execution = this.#execution;
    if (!execution || this.#workStopped || !this.#init.executor.capabilities.hardStop || !execution.kill)
      return;
    const log = (error: unknown) => this.logger.error({ err: toError(error) }, 'hard stop failed');
    try {
      execution.kill().catch(log);
    } catch (error) {
      log(error);
    }
  }

  /** Launches the work; the runtime calls it once, a microtask after `submit`. */
  start(): void {
    if (!this.#transition(CREATED, DEPLOYING)) return;
    if (this.#state !== DEPLOYING) {
      // A listener of the DEPLOYING transition cancelled or failed the task: nothing was launched.
      this.#workEnded(false, new TaskCancelledError(this.executionId));
      return;
    }
    let execution: Execution;
    try {
      execution = this.#init.executor.launch(this.#launchSpec());
    } catch (error) {
      this.#workEnded(false, error);
      return;
    }
    const attached = this.#attached;
    this.#attached = undefined;
    // The execution that reported the outcome inside launch() (synchronous inline work): the task is
    // done, and neither `started` nor `result` needs a reaction. Any other execution (a wrapper, say)
    // is followed as usual, so its promises never go unhandled.
    if (this.#workStopped && execution === attached) return;
    if (!this.#workStopped) this.#execution = execution;
    execution.started.then(
      () => this.#transition(DEPLOYING, INITIALIZING),
      () => undefined, // `result` carries the same failure.
    );
    execution.result.then(
      (value) => this.#workEnded(true, value),
      (error: unknown) => this.#workEnded(false, error),
    );
    if (this.#stopPending) {
      this.#stopPending = false;
      this.#stopWork();
    }
  }

  cancel(): void {
    try {
      const observed = this.#state;
      switch (observed) {
        case CREATED:
          this.#cancellationRequested = true;
          this.#workStopped = true;
          this.#transition(CREATED, CANCELED);
          this.#settleIfDone();
          return;
        case DEPLOYING:
        case INITIALIZING:
        case RUNNING:
          this.#cancellationRequested = true;
          if (this.#transition(observed, CANCELING) && this.#state === CANCELING) this.#stopWork();
          return;
        default:
          return; // terminal or already CANCELING: idempotent
      }
    } catch (error) {
      this.#abandon(
        new CancellationArmingError({ executionId: this.executionId, taskName: this.name }, error),
      );
    }
  }

  fail(cause: unknown): void {
    try {
      const error = failureCauseOf(cause);
      const observed = this.#state;
      switch (observed) {
        case CREATED:
          this.#workStopped = true;
          this.#transition(CREATED, FAILED, error);
          this.#settleIfDone();
          return;
        case CANCELING:
          // The ladder is already stopping the work.
          this.#transition(CANCELING, FAILED, error);
          this.#settleIfDone();
          return;
        case DEPLOYING:
        case INITIALIZING:
        case RUNNING:
          if (this.#transition(observed, FAILED, error)) this.#stopWork();
          this.#settleIfDone();
          return;
        default:
          return;
      }
    } catch (error) {
      this.#abandon(
        new CancellationArmingError({ executionId: this.executionId, taskName: this.name }, error),
      );
    }
  }

  #launchSpec(): LaunchSpec {
    return new TaskLaunchSpec(this, this.#init);
  }

  /** Called by the executor (through the launch spec) right before `invoke`. @internal */
  reportRunning(): void {
    this.#onRunning();
  }

  /** The executor knows the outcome (through the launch spec's {@link REPORT_OUTCOME}). @internal */
  reportOutcome(ok: boolean, value: unknown): void {
    this.#workEnded(ok, value);
  }

  /** The executor's execution, before task code runs inside `launch()` ({@link ATTACH_EXECUTION}). @internal */
  attachExecution(execution: Execution): void {
    if (this.#workStopped || this.#state === CREATED) return;
    this.#attached = execution;
    this.#execution = execution;
    if (this.#stopPending) {
      this.#stopPending = false;
      this.#stopWork();
    }
  }

  /**
   * {@link ON_DONE}: `callback(arg)` runs synchronously right after `done` resolves. One slot table
   * registers per task; anyone else (a task attached to a second table) is served through `done`.
   * @internal
   */
  [ON_DONE](callback: (arg: unknown) => void, arg: unknown): void {
    if (this.#settled || this.#doneCallback !== undefined) {
      this.done.then(() => callback(arg));
      return;
    }
    this.#doneCallback = callback;
    this.#doneCallbackArg = arg;
  }

  #onRunning(): void {
    try {
      // `started` resolves asynchronously; an executor may report running first.
      if (this.#state === DEPLOYING) this.#transition(DEPLOYING, INITIALIZING);
      this.#transition(INITIALIZING, RUNNING);
    } catch (error) {
      this.logger.error({ err: toError(error) }, 'reporting RUNNING failed');
    }
  }

  /** Arms the cancellation ladder once; failure to arm it is fatal at once (eager escalation). */
  #stopWork(): void {
    if (this.#ladder || this.#workStopped) return;
    const execution = this.#execution;
    if (!execution) {
      this.#stopPending = true;
      return;
    }
    try {
      this.#ladder = this.#host.strategy.arm(this.#cancellationTarget(execution));
      // The work may have ended while the ladder was being armed (an executor reporting its outcome
      // from cancel() or a synchronous hard stop): nothing may stay armed after that.
      if (this.#workStopped || this.#settled) this.#ladder.disarm();
    } catch (error) {
      this.#abandon(
        new CancellationArmingError({ executionId: this.executionId, taskName: this.name }, error),
      );
    }
  }

  #cancellationTarget(execution: Execution): CancellationTarget {
    const reason =
      this.#state === FAILED
        ? new TaskCancelledError(
            this.executionId,
            `task ${this.executionId} was failed: ${this.#failureCause?.message ?? 'no cause'}`,
          )
        : new TaskCancelledError(this.executionId);
    return {
      task: this,
      execution,
      capabilities: this.#init.executor.capabilities,
      timings: this.#init.timings,
      reason,
      logger: this.logger,
      isWorkStopped: () => this.#workStopped || this.#settled,
      reportStuck: (elapsedMs, diagnostics) => this.#reportStuck(elapsedMs, diagnostics),
      abandon: (error) => this.#abandon(error),
    };
  }

  #reportStuck(elapsedMs: number, diagnostics: string | undefined): void {
    this.logger.warn(
      { elapsedMs, diagnostics },
      `task did not react to cancelling for ${elapsedMs} ms; stuck in: ${diagnostics ?? '(no diagnostics available)'}`,
    );
    emitSafely(this.#host.events, 'taskStuck', this.logger, { task: this, elapsedMs, diagnostics });
  }

  /** The work has stopped (returned, threw, was killed, or was never launched). */
  #workEnded(ok: boolean, value: unknown): void {
    if (this.#workStopped) return;
    this.#workStopped = true;
    this.#ladder?.disarm();
    if (this.#settled) return; // abandoned earlier; the outcome is already out
    const observed = this.#state;
    switch (observed) {
      case DEPLOYING:
      case INITIALIZING:
      case RUNNING:
        if (ok) {
          this.#result = value;
          this.#transition(observed, FINISHED);
        } else {
          this.#transition(observed, FAILED, toError(value));
        }
        break;
      case CANCELING:
        // The final state says what happened to the work.
        if (ok) {
          this.#result = value;
          this.#transition(CANCELING, FINISHED);
        } else {
          this.#diagnostic = toError(value);
          this.#transition(CANCELING, CANCELED);
        }
        break;
      default:
        // FAILED by fail(): stays FAILED with the external cause.
        if (!ok) this.#diagnostic = toError(value);
    }
    this.#settleIfDone();
  }

  /** Gives up on the work: fatal handler, FAILED, `done` with `abandoned: true`. Never throws. */
  #abandon(error: Error): void {
    if (this.#settled) return;
    this.#abandoned = true;
    this.#stopPending = false;
    this.#ladder?.disarm();
    this.#lastResortStop(error);
    this.#host.onFatal(error, this);
    const observed = this.#state;
    if (!isTerminal(observed)) {
      try {
        this.#transition(observed, FAILED, error);
      } catch {
        this.#state = FAILED;
        this.#failureCause = error;
      }
    }
    this.#settleIfDone();
  }

  // Best effort only: the ladder could not be trusted, so ask once more, without waiting.
  #lastResortStop(reason: Error): void {
    const execution = this.#execution;
    if (!execution || this.#workStopped) return;
    try {
      execution.cancel(reason);
    } catch {
      /* already escalating */
    }
    if (this.#init.executor.capabilities.hardStop && execution.kill) {
      try {
        execution.kill().catch(() => undefined);
      } catch {
        /* already escalating */
      }
    }
  }

  #settleIfDone(): void {
    if (this.#settled || !isTerminal(this.#state)) return;
    if (!this.#workStopped && !this.#abandoned) return;
    this.#settled = true;
    if (this.#onAbort) this.#init.signal?.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
    const state = this.#state;
    const outcome: TaskOutcome = {
      state,
      cancellationRequested: this.#cancellationRequested,
      abandoned: this.#abandoned,
    };
    if (state === FINISHED) outcome.result = this.#result;
    else if (state === FAILED) outcome.error = this.#failureCause;
    else if (this.#diagnostic) outcome.error = this.#diagnostic;
    this.#result = undefined;
    this.#execution = undefined;
    this.#resolveDone(outcome);
    this.#host.onDone(this);
    const callback = this.#doneCallback;
    if (callback) {
      const arg = this.#doneCallbackArg;
      this.#doneCallback = this.#doneCallbackArg = undefined;
      try {
        callback(arg);
      } catch (error) {
        this.logger.error({ err: toError(error) }, 'a done callback threw');
      }
    }
  }

  /** Compare-and-set; logs and emits. Returns false when the state was not `expected`. */
  #transition(expected: ExecutionState, next: ExecutionState, cause?: Error): boolean {
    // Every call site passes a pair TRANSITIONS allows (the model-based test checks every transition
    // it observes against the table); no lookup here, this runs four times per task.
    if (this.#state !== expected) return false;
    this.#state = next;
    if (next === FAILED) this.#failureCause = cause;
    const host = this.#host;
    if (host.logTransitions) {
      this.logger[host.transitionLogLevel](
        cause ? { from: expected, to: next, err: cause } : { from: expected, to: next },
        'task state changed',
      );
    }
    if (host.events.hasStateListeners) {
      emitSafely(
        host.events,
        'taskStateChanged',
        this.logger,
        cause ? { task: this, from: expected, to: next, cause } : { task: this, from: expected, to: next },
      );
    }
    return true;
  }
}

// What the executor sees of the task; the logger is created only if the executor or task asks.
class TaskLaunchSpec implements LaunchSpec {
  readonly #task: TaskImpl;
  readonly #init: TaskInit;
  #info: TaskInfo | undefined;

  constructor(task: TaskImpl, init: TaskInit) {
    this.#task = task;
    this.#init = init;
  }

  get task(): TaskInfo {
    const init = this.#init;
    this.#info ??= {
      executionId: this.#task.executionId,
      jobId: init.jobId,
      allocationId: init.allocationId,
      name: init.name,
      attempt: init.attempt,
    };
    return this.#info;
  }

  get invokable(): InvokableReference {
    return this.#init.invokable;
  }

  get input(): unknown {
    return this.#init.input;
  }

  get logger(): Logger {
    return this.#task.logger;
  }

  get cancellation(): CancellationTimings {
    return this.#init.timings;
  }

  onRunning(): void {
    this.#task.reportRunning();
  }

  [REPORT_OUTCOME](ok: boolean, value: unknown): void {
    this.#task.reportOutcome(ok, value);
  }

  [ATTACH_EXECUTION](execution: Execution): void {
    this.#task.attachExecution(execution);
  }
}

function failureCauseOf(cause: unknown): Error {
  if (cause === undefined) {
    return new TaskwardenError(ErrorCode.TASK_FAILED_EXTERNALLY, 'the task was failed from outside');
  }
  if (cause instanceof Error) return cause;
  const error = toError(cause);
  return new TaskwardenError(ErrorCode.TASK_FAILED_EXTERNALLY, `the task was failed: ${error.message}`, {
    cause,
  });
}
