import type { DependencyContainer } from 'tsyringe';
import { inject, injectable } from 'tsyringe';
import {
  DuplicateExecutionIdError,
  describe,
  InvalidDescriptorError,
  RuntimeClosedError,
  RuntimeFatalError,
  toError,
} from '../errors.js';
import type { CancellationStrategy } from '../interfaces/cancellation-strategy.js';
import { CancellationStrategyToken } from '../interfaces/cancellation-strategy.js';
import type { RuntimeEventEmitter } from '../interfaces/events.js';
import { EventsToken } from '../interfaces/events.js';
import type { Executor } from '../interfaces/executor.js';
import type { FatalErrorHandler } from '../interfaces/fatal-error-handler.js';
import { FatalErrorHandlerToken } from '../interfaces/fatal-error-handler.js';
import type { Logger } from '../interfaces/logger.js';
import { LoggerToken } from '../interfaces/logger.js';
import type {
  CloseOptions,
  JobCancellationReport,
  RuntimeHealth,
  RuntimeSnapshot,
  TaskRuntime,
  TaskSnapshot,
} from '../interfaces/runtime.js';
import { ExecutorsToken, RuntimeOptionsToken } from '../interfaces/runtime.js';
import type { ScheduledTimer, Scheduler } from '../interfaces/scheduler.js';
import { SchedulerToken } from '../interfaces/scheduler.js';
import type { Task, TaskDescriptor } from '../interfaces/task.js';
import type { TaskSlotTable } from '../interfaces/task-slot-table.js';
import { TaskSlotTableToken } from '../interfaces/task-slot-table.js';
import { logSafely } from '../logging/log-safely.js';
import type { TaskHost, TaskImpl } from '../task/task-impl.js';
import { RuntimeTelemetry } from '../telemetry/runtime-telemetry.js';
import { DescriptorResolver } from './descriptor.js';
import { emitSafely } from './emit-safely.js';
import { executionKeyOf } from './execution-id.js';
import { JobRegistry } from './job-registry.js';
import { LiveTaskIndex } from './live-task-index.js';
import type { ResolvedRuntimeOptions } from './options.js';
import { MAX_TIMER_MS } from './options.js';
import type { RuntimeEventEmitterImpl } from './runtime-event-emitter.js';

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * The runtime behind `createRuntime`. Resolved from the runtime's own child container.
 *
 * It owns the index of its live tasks by execution id (a generated id is keyed by its number, see
 * execution-id.ts) and detaches each task from the slot table itself when the task's `done`
 * resolves.
 * @internal
 */
@injectable()
export class TaskRuntimeImpl implements TaskRuntime {
  readonly slotTable: TaskSlotTable;
  readonly events: RuntimeEventEmitter;

  readonly #executors: Readonly<Record<string, Executor>>;
  readonly #fatalErrorHandler: FatalErrorHandler;
  readonly #scheduler: Scheduler;
  readonly #logger: Logger;
  /** Live tasks (until `done`) by execution id key. */
  readonly #tasks = new LiveTaskIndex<TaskImpl>();
  readonly #jobs: JobRegistry;
  readonly #descriptors: DescriptorResolver;
  readonly #host: TaskHost & { logTransitions: boolean };
  readonly #onLevelChange: () => void;
  #toStart: TaskImpl[] = [];
  /** The clock read for the current turn of the event loop (see `#readClock`). */
  #batchAt = 0;
  #clockFresh = false;
  #telemetryActive = false;
  #spareStarts: TaskImpl[] = [];
  #health: RuntimeHealth = 'running';
  #closing: Promise<void> | undefined;
  #container: DependencyContainer | undefined;
  /** Whether the slot table was made for this runtime (closed with it) or given by the integrator. */
  #ownsSlotTable = true;

  constructor(
    @inject(RuntimeOptionsToken) options: ResolvedRuntimeOptions,
    @inject(ExecutorsToken) executors: Record<string, Executor>,
    @inject(TaskSlotTableToken) slotTable: TaskSlotTable,
    @inject(CancellationStrategyToken) strategy: CancellationStrategy,
    @inject(FatalErrorHandlerToken) fatalErrorHandler: FatalErrorHandler,
    @inject(SchedulerToken) scheduler: Scheduler,
    @inject(LoggerToken) logger: Logger,
    // createRuntime registers its own emitter in the runtime's container; a parent cannot replace it.
    @inject(EventsToken) events: RuntimeEventEmitterImpl,
  ) {
    this.#executors = executors;
    this.slotTable = slotTable;
    this.#fatalErrorHandler = fatalErrorHandler;
    this.#scheduler = scheduler;
    this.#logger = logger;
    this.events = events;
    this.#jobs = new JobRegistry(events, logger);
    this.#descriptors = new DescriptorResolver(executors, options.defaultExecutor, options.cancellation);
    // The level check is cached: it ran on every transition. pino announces level changes.
    const level = options.transitionLogLevel;
    const host = {
      events,
      logger,
      strategy,
      transitionLogLevel: level,
      logTransitions: logger.isLevelEnabled(level),
      onDone: (task: TaskImpl) => this.#onTaskDone(task),
      onFatal: (error: Error, task: TaskImpl) => this.#onFatal(error, task),
      telemetry: new RuntimeTelemetry(slotTable),
    };
    this.#onLevelChange = () => {
      host.logTransitions = logger.isLevelEnabled(level);
    };
    // Removed on close: the logger is the integrator's and may outlive many runtimes.
    logger.on?.('level-change', this.#onLevelChange);
    this.#host = host;
  }

  /** The container to dispose on close, and whether the slot table is this runtime's own. @internal */
  attachContainer(container: DependencyContainer, ownsSlotTable: boolean): void {
    this.#container = container;
    this.#ownsSlotTable = ownsSlotTable;
  }

  get health(): RuntimeHealth {
    return this.#health;
  }

  submit<TInput = unknown, TResult = unknown>(descriptor: TaskDescriptor<TInput, TResult>): Task<TResult> {
    if (this.#health === 'fatal') throw new RuntimeFatalError();
    if (this.#closing) throw new RuntimeClosedError('the runtime is closing or closed');
    const task = this.#descriptors.createTask(descriptor as TaskDescriptor, this.#host);
    task.submittedAt = this.#clockFresh ? this.#batchAt : this.#readClock();
    const telemetry = this.#host.telemetry;
    const key = task.executionKey;
    if (!this.#tasks.add(key, task)) {
      throw new DuplicateExecutionIdError(`a live task already has execution id ${task.executionId}`, {
        executionId: task.executionId,
      });
    }
    try {
      // Throws NO_ACTIVE_SLOT unless the allocation is ACTIVE for this job; the task has no effects yet.
      this.slotTable.addTask(task);
    } catch (error) {
      this.#tasks.delete(key, task);
      throw error;
    }
    if (this.#telemetryActive) {
      task.telemetry = telemetry.taskSubmitted(task.name, {
        executionId: task.executionId,
        jobId: task.jobId,
        executor: task.executor,
      });
    }
    if (!this.#jobs.add(task)) {
      // Prefect semantics: work submitted to a cancelling job is born CANCELED, never invoked.
      task.cancel();
      return task as Task<unknown> as Task<TResult>;
    }
    task.watchSignal();
    this.#scheduleStart(task);
    return task as Task<unknown> as Task<TResult>;
  }

  /**
   * Launches submitted tasks one microtask later, so a `cancel()` right after `submit()` ends the
   * task before anything is loaded. One microtask drains every task submitted in the same turn.
   */
  #scheduleStart(task: TaskImpl): void {
    this.#toStart.push(task);
    // A reaction to a settled promise rather than queueMicrotask, which makes an AsyncResource and a
    // bound function per call; both run in the same microtask queue, in order.
    if (this.#toStart.length === 1) RESOLVED.then(this.#drainStarts);
  }

  /**
   * The submission time: one clock read per turn of the event loop, not per task (a clock read was a
   * measurable share of an inline task), and with it whether telemetry records. Submissions made
   * within one turn share it: a turn that runs
   * long without yielding makes later ones look that much older, which an inspector's display of
   * elapsed time tolerates.
   */
  #readClock(): number {
    this.#batchAt = Date.now();
    // Whether an OpenTelemetry SDK is registered, read as rarely as the clock: an SDK registered
    // during a turn records the tasks submitted from the next one.
    this.#telemetryActive = this.#host.telemetry.active;
    this.#clockFresh = true;
    setImmediate(this.#staleClock).unref();
    return this.#batchAt;
  }

  readonly #staleClock = (): void => {
    this.#clockFresh = false;
  };

  readonly #drainStarts = (): void => {
    const tasks = this.#toStart;
    // Two arrays take turns: tasks submitted while these start go to the other one.
    this.#toStart = this.#spareStarts;
    for (const task of tasks) task.start();
    tasks.length = 0;
    this.#spareStarts = tasks;
  };

  getTask(executionId: string): Task | undefined {
    if (typeof executionId !== 'string') return undefined;
    return this.#tasks.get(executionKeyOf(executionId));
  }

  snapshot(): RuntimeSnapshot {
    const tasks: TaskSnapshot[] = [];
    // Every live task is in exactly one job; oldest first, to the millisecond of its submission.
    const live = [...this.#jobs.liveTasks()].sort((a, b) => a.submittedAt - b.submittedAt);
    for (const task of live) {
      const ladder = task.ladderState;
      tasks.push({
        executionId: task.executionId,
        jobId: task.jobId,
        allocationId: task.allocationId,
        name: task.name,
        executor: task.executor,
        state: task.state,
        submittedAt: task.submittedAt,
        progress: task.progress,
        cancellationRequested: task.cancellationRequested,
        ...(ladder === undefined
          ? {}
          : {
              ladder: {
                stage: ladder.stage,
                requestedAt: ladder.requestedAt,
                interrupts: ladder.interrupts,
                ...(ladder.lastStuck === undefined ? {} : { lastStuck: { ...ladder.lastStuck } }),
              },
            }),
      });
    }
    const executors: Record<string, { name: string; capabilities: Executor['capabilities'] }> = {};
    for (const [key, executor] of Object.entries(this.#executors)) {
      executors[key] = { name: executor.name, capabilities: { ...executor.capabilities } };
    }
    return {
      takenAt: Date.now(),
      health: this.#health,
      slots: this.slotTable.getSlotReport(),
      tasks,
      jobs: this.#jobs.snapshot(),
      executors,
    };
  }

  cancelJob(jobId: string): Promise<JobCancellationReport> {
    if (typeof jobId !== 'string' || jobId.length === 0) {
      return Promise.reject(new InvalidDescriptorError('cancelJob: jobId must be a non-empty string'));
    }
    return this.#jobs.cancel(jobId, this.#executors);
  }

  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    if (typeof options !== 'object' || options === null) {
      return Promise.reject(new TypeError('close options must be an object'));
    }
    for (const key of Object.keys(options)) {
      if (key !== 'graceMs') {
        return Promise.reject(new TypeError(`unknown close option '${key}' (known: graceMs)`));
      }
    }
    const { graceMs } = options;
    if (
      graceMs !== undefined &&
      (typeof graceMs !== 'number' || !Number.isFinite(graceMs) || graceMs < 0 || graceMs > MAX_TIMER_MS)
    ) {
      return Promise.reject(
        new RangeError(`options.graceMs must be a number from 0 to ${MAX_TIMER_MS} ms, got ${graceMs}`),
      );
    }
    this.#closing = this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number | undefined): Promise<void> {
    let graceTimer: ScheduledTimer | undefined;
    if (graceMs !== undefined) {
      try {
        graceTimer = this.#scheduler.schedule(graceMs, () => {
          for (const task of this.#jobs.liveTasks()) task.hardStop();
        });
      } catch (error) {
        logSafely(
          this.#logger,
          'error',
          { err: toError(error) },
          'close: could not arm the grace timer; relying on each ladder',
        );
      }
    }
    await Promise.all(this.#jobs.jobIds().map((jobId) => this.cancelJob(jobId)));
    graceTimer?.cancel();
    // A table given by the integrator may be shared with other runtimes: only this runtime's tasks
    // were stopped (and detached); its slots and the others' tasks stay as they are.
    if (this.#ownsSlotTable) await this.slotTable.close();
    const results = await Promise.allSettled(
      Object.values(this.#executors).map((executor) => executor.close()),
    );
    for (const result of results) {
      if (result.status === 'rejected') {
        logSafely(this.#logger, 'error', { err: toError(result.reason) }, 'closing an executor failed');
      }
    }
    this.#health = 'closed';
    this.#host.telemetry.close();
    this.#logger.off?.('level-change', this.#onLevelChange);
    try {
      this.#logger.flush();
    } catch {
      /* a logger that cannot flush must not block close */
    }
    await this.#container?.dispose();
  }

  #onTaskDone(task: TaskImpl): void {
    this.#tasks.delete(task.executionKey, task);
    this.#jobs.remove(task);
    this.slotTable.removeTask(task);
  }

  #onFatal(error: Error, task: TaskImpl): void {
    if (this.#health !== 'closed') this.#health = 'fatal';
    this.#host.telemetry.fatal(error);
    logSafely(task.logger, 'fatal', { err: error }, `fatal error: ${describe(error)}`);
    try {
      this.#fatalErrorHandler.onFatalError(error);
    } catch (handlerError) {
      logSafely(this.#logger, 'error', { err: toError(handlerError) }, 'the fatal error handler threw');
    }
    emitSafely(this.events, 'fatalError', this.#logger, { error, task });
  }
}
