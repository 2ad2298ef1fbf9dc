import { context } from '@opentelemetry/api';
import {
  CancellationArmingError,
  describe,
  ErrorCode,
  isError,
  TaskCancelledError,
  TaskFailedExternallyError,
  TaskwardenError,
  toError,
} from '../errors.js';
import type { TransitionTarget } from '../execution-state.js';
import { ExecutionState, isTerminal } from '../execution-state.js';
import type {
  CancellationHandle,
  CancellationStage,
  CancellationStrategy,
  CancellationTarget,
  CancellationTimings,
} from '../interfaces/cancellation-strategy.js';
import type { Execution, ExecutionReporter, Executor, LaunchSpec } from '../interfaces/executor.js';
import type { InvokableReference } from '../interfaces/invokable.js';
import type { Logger } from '../interfaces/logger.js';
import type { Task, TaskOutcome } from '../interfaces/task.js';
import { logSafely } from '../logging/log-safely.js';
import { emitSafely } from '../runtime/emit-safely.js';
import { formatExecutionId } from '../runtime/execution-id.js';
import type { RuntimeEventEmitterImpl } from '../runtime/runtime-event-emitter.js';
import { SlotLink } from '../slots/slot-link.js';
import type { RuntimeTelemetry, TaskTelemetry } from '../telemetry/runtime-telemetry.js';
import { lazyLogger } from './lazy-logger.js';

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
  /** Called once, synchronously, right after `done` resolved: the runtime forgets the task and detaches it from its slot. */
  onDone(task: TaskImpl): void;
  /** Reports a fatal error (handler, health, event); never throws. */
  onFatal(error: Error, task: TaskImpl): void;
  /** Metrics and traces (a no-op until the host registers an OpenTelemetry SDK). */
  readonly telemetry: RuntimeTelemetry;
}

/** How far a task's cancellation ladder has got. @internal */
export interface LadderState {
  stage: CancellationStage;
  readonly requestedAt: number;
  interrupts: number;
  lastStuck?: { elapsedMs: number; diagnostics?: string };
}

const { CREATED, DEPLOYING, INITIALIZING, RUNNING, FINISHED, CANCELING, CANCELED, FAILED } = ExecutionState;

/** How a {@link TaskReporter} reaches its task's private state (set in TaskImpl's static block). */
interface TaskFriend {
  attach(task: TaskImpl, execution: Execution): void;
  started(task: TaskImpl): void;
  running(task: TaskImpl): void;
  progress(task: TaskImpl, value: unknown): void;
  ended(task: TaskImpl, ok: boolean, value: unknown): void;
}
let friend!: TaskFriend;

/**
 * One task: the state machine of the design's "Task lifecycle".
 *
 * Everything runs on one thread, yet every transition is a compare-and-set against the state the
 * caller observed, because listeners of `taskStateChanged` and executor reports can re-enter
 * (`cancel()` from a listener, `fail()` while launching) and every await is a point where the state
 * may have moved.
 *
 * The executor reports through the launch spec's {@link ExecutionReporter}, during or after
 * `launch()`: the only path, for built-in and third-party executors alike.
 * @internal
 */
export class TaskImpl extends SlotLink implements Task {
  static {
    friend = {
      attach: (task, execution) => task.#attach(execution),
      started: (task) => task.#started(),
      running: (task) => task.#running(),
      progress: (task, value) => task.#progressed(value),
      ended: (task, ok, value) => task.#workEnded(ok, value),
    };
  }

  readonly jobId: string;
  readonly allocationId: string;
  readonly name: string;
  readonly executor: string;
  readonly done: Promise<TaskOutcome>;
  /** When it was submitted, ms since the epoch (one clock read per batch of submissions). @internal */
  submittedAt = 0;
  /** Its span and clocks, when telemetry was on at its submit. @internal */
  telemetry: TaskTelemetry | undefined = undefined;

  /** @internal */
  slotPrev: SlotLink | undefined = undefined;
  /** @internal */
  slotNext: SlotLink | undefined = undefined;
  /** Its slot while attached to a default slot table (see SlotLink). @internal */
  slotHolder: object | undefined = undefined;

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
  #progress: unknown;
  /** The ladder's progress, once cancellation began (for `runtime.snapshot()`). */
  #ladderState: LadderState | undefined;

  readonly #host: TaskHost;
  readonly #executionKey: string | number;
  readonly #attempt: number;
  readonly #executorInstance: Executor;
  readonly #invokable: InvokableReference;
  readonly #input: unknown;
  readonly #timings: CancellationTimings;
  readonly #signal: AbortSignal | undefined;
  #logger: Logger | undefined;
  #resolveDone!: (outcome: TaskOutcome) => void;
  #execution: Execution | undefined;
  #ladder: CancellationHandle | undefined;
  /** Work must be stopped but there is no execution yet (cancelled while launching). */
  #stopPending = false;
  #workStopped = false;
  #abandoned = false;
  #settled = false;
  #onAbort: (() => void) | undefined;

  /**
   * Made by the runtime from a validated descriptor (see descriptor.ts), field by field: no object
   * per task in between. `executionKey` is the number of a generated id (formatted on first read)
   * or the id itself; `executor` is the instance registered under `executorKey`.
   */
  constructor(
    host: TaskHost,
    executionKey: string | number,
    jobId: string,
    allocationId: string,
    name: string,
    attempt: number,
    executorKey: string,
    executor: Executor,
    invokable: InvokableReference,
    input: unknown,
    timings: CancellationTimings,
    signal: AbortSignal | undefined,
  ) {
    super();
    this.#host = host;
    this.#executionKey = executionKey;
    this.jobId = jobId;
    this.allocationId = allocationId;
    this.name = name;
    this.#attempt = attempt;
    this.executor = executorKey;
    this.#executorInstance = executor;
    this.#invokable = invokable;
    this.#input = input;
    this.#timings = timings;
    this.#signal = signal;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  /** A task is its own node in its slot's list (see SlotLink). @internal */
  get linkedTask(): Task {
    return this;
  }

  get executionId(): string {
    this.#executionId ??= formatExecutionId(this.#executionKey);
    return this.#executionId;
  }

  /** What the runtime indexes this task by (a number for a generated id). @internal */
  get executionKey(): string | number {
    return this.#executionKey;
  }

  get state(): ExecutionState {
    return this.#state;
  }

  get failureCause(): Error | undefined {
    return this.#failureCause;
  }

  get cancellationRequested(): boolean {
    return this.#cancellationRequested;
  }

  get progress(): unknown {
    return this.#progress;
  }

  /** How far the cancellation ladder has got, once it was armed. @internal */
  get ladderState(): Readonly<LadderState> | undefined {
    return this.#ladderState;
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
    const signal = this.#signal;
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
    if (!execution || this.#workStopped || !this.#executorInstance.capabilities.hardStop || !execution.kill)
      return;
    const log = (error: unknown) =>
      logSafely(this.logger, 'error', { err: toError(error) }, 'hard stop failed');
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
      const spec = this.#launchSpec();
      // Launched in the task span's context, so an executor can carry it on (to a remote agent).
      const launchContext = this.telemetry && this.#host.telemetry.launchContext(this.telemetry);
      execution = launchContext
        ? context.with(launchContext, () => this.#executorInstance.launch(spec))
        : this.#executorInstance.launch(spec);
    } catch (error) {
      this.#workEnded(false, error);
      return;
    }
    // Synchronous work may have reported its outcome inside launch(): nothing left to follow.
    if (this.#workStopped) return;
    if (!isExecution(execution)) {
      this.#workEnded(
        false,
        new TypeError(
          `executor '${this.executor}' returned ${describe(execution)} from launch(), not an Execution`,
        ),
      );
      return;
    }
    // The execution launch() returns wins over one attached during it (a wrapper's, say).
    this.#execution = execution;
    this.#applyPendingStop();
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
      this.#abandon(this.#armingError(error));
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
      this.#abandon(this.#armingError(error));
    }
  }

  #armingError(cause: unknown): CancellationArmingError {
    return new CancellationArmingError({ executionId: this.executionId, taskName: this.name }, cause);
  }

  /**
   * The spec handed to the executor: a plain object of own data properties, so `{ ...spec, input }`
   * keeps working. Its logger creates the task's pino child only when used (see lazy-logger.ts).
   */
  #launchSpec(): LaunchSpec {
    return {
      task: {
        executionId: this.executionId,
        jobId: this.jobId,
        allocationId: this.allocationId,
        name: this.name,
        attempt: this.#attempt,
      },
      invokable: this.#invokable,
      input: this.#input,
      logger: lazyLogger(this),
      cancellation: this.#timings,
      report: new TaskReporter(this),
    };
  }

  #attach(execution: Execution): void {
    if (this.#workStopped || this.#settled || !isExecution(execution)) return;
    // Only recorded: a pending stop is applied once the execution can take it (after its
    // constructor, at the latest when launch() returns or the work reports it started).
    this.#execution = execution;
  }

  #started(): void {
    if (this.#state === DEPLOYING) this.#transition(DEPLOYING, INITIALIZING);
    this.#applyPendingStop();
  }

  #running(): void {
    // `started` is implied: an executor may report running first.
    if (this.#state === DEPLOYING) this.#transition(DEPLOYING, INITIALIZING);
    if (this.#state === INITIALIZING) this.#transition(INITIALIZING, RUNNING);
    this.#applyPendingStop();
  }

  #progressed(value: unknown): void {
    if (this.#settled || this.#workStopped) return;
    this.#progress = value;
    const host = this.#host;
    if (host.events.hasProgressListeners) {
      emitSafely(host.events, 'taskProgress', this.logger, { task: this, progress: value });
    }
  }

  #applyPendingStop(): void {
    if (!this.#stopPending || !this.#execution) return;
    this.#stopPending = false;
    this.#stopWork();
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
      this.#abandon(this.#armingError(error));
    }
  }

  #cancellationTarget(execution: Execution): CancellationTarget {
    const reason =
      this.#state === FAILED
        ? new TaskCancelledError(
            this.executionId,
            `task ${this.executionId} was failed: ${describe(this.#failureCause)}`,
          )
        : new TaskCancelledError(this.executionId);
    return {
      task: this,
      execution,
      capabilities: this.#executorInstance.capabilities,
      timings: this.#timings,
      reason,
      logger: this.logger,
      isWorkStopped: () => this.#workStopped || this.#settled,
      reportStuck: (elapsedMs, diagnostics) => this.#reportStuck(elapsedMs, diagnostics),
      abandon: (error) => this.#abandon(error),
      reportStage: (stage) => this.#reportStage(stage),
    };
  }

  #reportStage(stage: CancellationStage): void {
    if (this.telemetry) this.#host.telemetry.stage(this.telemetry, stage);
    const now = Date.now();
    this.#ladderState ??= { stage, requestedAt: now, interrupts: 0 };
    const ladder = this.#ladderState;
    ladder.stage = stage;
    if (stage === 'interrupt') ladder.interrupts++;
    const host = this.#host;
    if (host.events.hasStageListeners) {
      emitSafely(host.events, 'taskCancellationStage', this.logger, {
        task: this,
        stage,
        elapsedMs: now - ladder.requestedAt,
      });
    }
  }

  #reportStuck(elapsedMs: number, diagnostics: string | undefined): void {
    this.#host.telemetry.stuck(this.executor);
    if (this.#ladderState) {
      this.#ladderState.lastStuck = diagnostics === undefined ? { elapsedMs } : { elapsedMs, diagnostics };
    }
    logSafely(
      this.logger,
      'warn',
      { elapsedMs, diagnostics },
      `task did not react to cancelling for ${elapsedMs} ms; stuck in: ${diagnostics ?? '(no diagnostics available)'}`,
    );
    emitSafely(this.#host.events, 'taskStuck', this.logger, { task: this, elapsedMs, diagnostics });
  }

  /** The work has stopped (returned, threw, was killed, or was never launched). Never throws. */
  #workEnded(ok: boolean, value: unknown): void {
    if (this.#workStopped) return;
    this.#workStopped = true;
    this.#stopPending = false;
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
        } else if (cancelledWhereItRan(value, this.executionId)) {
          // Cancelled by the executor's side (a cluster agent that drains), not by the runtime: the
          // final state still says what happened to the work.
          this.#cancellationRequested = true;
          this.#diagnostic = toError(value);
          if (this.#transition(observed, CANCELING)) this.#transition(CANCELING, CANCELED);
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

  /**
   * Gives up on the work: FAILED, a last request to stop, the fatal handler, then `done` with
   * `abandoned: true`. FAILED comes first, so work that reports its end while being asked once more
   * (a synchronous hard stop) cannot turn the task CANCELED. Never throws.
   */
  #abandon(error: Error): void {
    if (this.#settled) return;
    this.#abandoned = true;
    this.#stopPending = false;
    this.#ladder?.disarm();
    const observed = this.#state;
    if (!isTerminal(observed)) {
      this.#transition(observed, FAILED, error);
      if (!isTerminal(this.#state)) {
        // A listener moved the task on meanwhile; giving up must still end it.
        this.#state = FAILED;
        this.#failureCause = error;
      }
    }
    this.#lastResortStop(error);
    this.#host.onFatal(error, this);
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
    if (this.#executorInstance.capabilities.hardStop && execution.kill) {
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
    if (this.#onAbort) this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
    const state = this.#state;
    const cancellationRequested = this.#cancellationRequested;
    let outcome: TaskOutcome;
    if (state === FINISHED) {
      outcome = { state, result: this.#result, cancellationRequested, abandoned: false };
    } else if (state === FAILED) {
      outcome = {
        state,
        error: this.#failureCause ?? new TaskFailedExternallyError(),
        cancellationRequested,
        abandoned: this.#abandoned,
      };
    } else if (this.#diagnostic) {
      outcome = { state: CANCELED, error: this.#diagnostic, cancellationRequested, abandoned: false };
    } else {
      outcome = { state: CANCELED, cancellationRequested, abandoned: false };
    }
    this.#result = undefined;
    this.#execution = undefined;
    if (this.telemetry) {
      this.#host.telemetry.taskDone(this.telemetry, this.executor, state, this.#abandoned, outcome.error);
      this.telemetry = undefined;
    }
    this.#resolveDone(outcome);
    try {
      this.#host.onDone(this);
    } catch (error) {
      logSafely(this.logger, 'error', { err: error }, 'detaching a finished task failed');
    }
  }

  /**
   * The one state setter: compare-and-set against `expected`, accepting only pairs of the
   * transition table (checked by the compiler); logs and emits. Returns false when the state was
   * not `expected`. Never throws: logging and listeners are guarded.
   */
  #transition<TFrom extends ExecutionState>(
    expected: TFrom,
    next: TransitionTarget<TFrom>,
    cause?: Error,
  ): boolean {
    if (this.#state !== expected) return false;
    this.#state = next;
    if (next === FAILED) this.#failureCause = cause;
    const host = this.#host;
    if (host.logTransitions) {
      logSafely(
        this.logger,
        host.transitionLogLevel,
        cause ? { from: expected, to: next, err: cause } : { from: expected, to: next },
        'task state changed',
      );
    }
    if (this.telemetry) host.telemetry.transition(this.telemetry, next);
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

/**
 * The task's end of {@link LaunchSpec.report}: one per launch. Its methods reach the task's private
 * state; none throws (the executor's code must not break because the task's listeners did).
 */
class TaskReporter implements ExecutionReporter {
  readonly #task: TaskImpl;

  constructor(task: TaskImpl) {
    this.#task = task;
  }

  attach(execution: Execution): void {
    friend.attach(this.#task, execution);
  }

  started(): void {
    friend.started(this.#task);
  }

  running(): void {
    friend.running(this.#task);
  }

  progress(value: unknown): void {
    friend.progress(this.#task, value);
  }

  finished(value: unknown): void {
    friend.ended(this.#task, true, value);
  }

  failed(error: unknown): void {
    friend.ended(this.#task, false, error);
  }
}

function isExecution(value: unknown): value is Execution {
  try {
    return typeof value === 'object' && value !== null && typeof (value as Execution).cancel === 'function';
  } catch {
    return false;
  }
}

function failureCauseOf(cause: unknown): Error {
  if (cause === undefined) return new TaskFailedExternallyError();
  if (isError(cause)) return cause;
  return new TaskFailedExternallyError(`the task was failed: ${describe(cause)}`, { cause });
}

/**
 * An executor reported the work stopped by a cancellation of its own side: a `TaskCancelledError`
 * naming this very task (a cluster agent that drains). Task code that rethrows some other task's
 * cancellation still fails its own task.
 */
function cancelledWhereItRan(value: unknown, executionId: string): boolean {
  if (!TaskwardenError.is(value)) return false;
  const error = value as TaskwardenError & { executionId?: unknown };
  return error.code === ErrorCode.TASK_CANCELLED && error.executionId === executionId;
}
