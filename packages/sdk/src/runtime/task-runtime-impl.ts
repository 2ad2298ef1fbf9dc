import type { DependencyContainer } from 'tsyringe';
import { inject, injectable } from 'tsyringe';
import { ErrorCode, RuntimeFatalError, TaskSubmissionError, toError } from '../errors.js';
import type { CancellationStrategy } from '../interfaces/cancellation-strategy.js';
import { CancellationStrategyToken } from '../interfaces/cancellation-strategy.js';
import type { JobState, RuntimeEventEmitter } from '../interfaces/events.js';
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
  TaskRuntime,
} from '../interfaces/runtime.js';
import { ExecutorsToken, RuntimeOptionsToken } from '../interfaces/runtime.js';
import type { ScheduledTimer, Scheduler } from '../interfaces/scheduler.js';
import { SchedulerToken } from '../interfaces/scheduler.js';
import type { Task, TaskDescriptor } from '../interfaces/task.js';
import type { TaskSlotTable } from '../interfaces/task-slot-table.js';
import { TaskSlotTableToken } from '../interfaces/task-slot-table.js';
import type { TaskHost } from '../task/task-impl.js';
import { TaskImpl } from '../task/task-impl.js';
import { resolveDescriptor } from './descriptor.js';
import { emitSafely } from './emit-safely.js';
import type { ResolvedRuntimeOptions } from './options.js';
import { MAX_TIMER_MS } from './options.js';
import type { RuntimeEventEmitterImpl } from './runtime-event-emitter.js';

/**
 * One job and its live tasks, kept in submission order in a list that runs through the tasks
 * themselves (`jobPrev`/`jobNext`): adding and removing a task costs no hashing.
 */
class JobRecord {
  state: JobState = 'RUNNING';
  size = 0;
  #head: TaskImpl | undefined;
  #tail: TaskImpl | undefined;
  /** Every task that belonged to the job since its cancellation began, for the report. */
  members?: Map<string, TaskImpl>;
  cancellation?: Promise<JobCancellationReport>;

  add(task: TaskImpl): void {
    task.jobRecord = this;
    task.jobPrev = this.#tail;
    if (this.#tail) this.#tail.jobNext = task;
    else this.#head = task;
    this.#tail = task;
    this.size++;
  }

  remove(task: TaskImpl): void {
    if (task.jobRecord !== this) return;
    const { jobPrev: prev, jobNext: next } = task;
    if (prev) prev.jobNext = next;
    else this.#head = next;
    if (next) next.jobPrev = prev;
    else this.#tail = prev;
    task.jobRecord = task.jobPrev = task.jobNext = undefined;
    this.size--;
  }

  /** The live tasks, oldest first (a copy). */
  tasks(): TaskImpl[] {
    const tasks: TaskImpl[] = [];
    for (let task = this.#head; task; task = task.jobNext) tasks.push(task);
    return tasks;
  }
}

/**
 * The runtime behind `createRuntime`. Resolved from the runtime's own child container.
 * @internal
 */
@injectable()
export class TaskRuntimeImpl implements TaskRuntime {
  readonly slotTable: TaskSlotTable;
  readonly events: RuntimeEventEmitter;

  readonly #options: ResolvedRuntimeOptions;
  readonly #executors: Readonly<Record<string, Executor>>;
  readonly #fatalErrorHandler: FatalErrorHandler;
  readonly #scheduler: Scheduler;
  readonly #logger: Logger;
  /** Live tasks by execution id, only when the slot table cannot find them (no `findTask`). */
  readonly #tasks: Map<string, TaskImpl> | undefined;
  readonly #jobs = new Map<string, JobRecord>();
  readonly #host: TaskHost;
  #toStart: TaskImpl[] = [];
  #health: RuntimeHealth = 'running';
  #closing: Promise<void> | undefined;
  #container: DependencyContainer | undefined;

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
    this.#options = options;
    this.#executors = executors;
    this.slotTable = slotTable;
    this.#tasks = typeof slotTable.findTask === 'function' ? undefined : new Map();
    this.#fatalErrorHandler = fatalErrorHandler;
    this.#scheduler = scheduler;
    this.#logger = logger;
    this.events = events;
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
    };
    logger.on?.('level-change', () => {
      host.logTransitions = logger.isLevelEnabled(level);
    });
    this.#host = host;
  }

  /** The container to dispose on close. @internal */
  attachContainer(container: DependencyContainer): void {
    this.#container = container;
  }

  get health(): RuntimeHealth {
    return this.#health;
  }

  submit<TInput = unknown, TResult = unknown>(descriptor: TaskDescriptor<TInput, TResult>): Task<TResult> {
    if (this.#health === 'fatal') throw new RuntimeFatalError();
    if (this.#closing) {
      throw new TaskSubmissionError(ErrorCode.RUNTIME_CLOSED, 'the runtime is closing or closed');
    }
    const init = resolveDescriptor(
      descriptor as TaskDescriptor,
      this.#executors,
      this.#options.defaultExecutor,
      this.#options.cancellation,
    );
    const task = new TaskImpl(init, this.#host);
    // Only a table without findTask needs the id as a string here (a generated one is formatted lazily).
    const tasks = this.#tasks;
    if (tasks?.has(task.executionId)) {
      throw new TaskSubmissionError(
        ErrorCode.DUPLICATE_EXECUTION_ID,
        `a live task already has execution id ${task.executionId}`,
        { executionId: task.executionId },
      );
    }
    // Throws NO_ACTIVE_SLOT unless the allocation is ACTIVE for this job, DUPLICATE_EXECUTION_ID for
    // an id the table already holds (when it has findTask); the task has no effects yet.
    this.slotTable.addTask(task);
    tasks?.set(task.executionId, task);
    const { jobId } = task;
    let job = this.#jobs.get(jobId);
    if (!job) {
      job = new JobRecord();
      this.#jobs.set(jobId, job);
    }
    job.add(task);
    if (job.state === 'CANCELING') {
      // Prefect semantics: work submitted to a cancelling job is born CANCELED, never invoked.
      job.members?.set(task.executionId, task);
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
    if (this.#toStart.length === 1) queueMicrotask(this.#drainStarts);
  }

  readonly #drainStarts = (): void => {
    const tasks = this.#toStart;
    this.#toStart = [];
    for (const task of tasks) task.start();
  };

  getTask(executionId: string): Task | undefined {
    if (this.#tasks) return this.#tasks.get(executionId);
    const task = this.slotTable.findTask?.(executionId);
    // A slot table shared between runtimes holds the others' tasks too.
    return task instanceof TaskImpl && task.isHostedBy(this.#host) ? task : undefined;
  }

  cancelJob(jobId: string): Promise<JobCancellationReport> {
    if (typeof jobId !== 'string' || jobId.length === 0) {
      return Promise.reject(
        new TaskSubmissionError(ErrorCode.INVALID_DESCRIPTOR, 'cancelJob: jobId must be a non-empty string'),
      );
    }
    let job = this.#jobs.get(jobId);
    if (job?.cancellation) return job.cancellation;
    if (!job) {
      job = new JobRecord();
      this.#jobs.set(jobId, job);
    }
    const record = job;
    record.members = new Map(record.tasks().map((task) => [task.executionId, task]));
    this.#setJobState(jobId, record, 'CANCELING');
    record.cancellation = this.#runJobCancellation(jobId, record);
    return record.cancellation;
  }

  async #runJobCancellation(jobId: string, job: JobRecord): Promise<JobCancellationReport> {
    // Work that has not started is withdrawn first: stopping a running task frees capacity at once
    // (a worker thread may claim its next task the moment the current one ends), and that capacity
    // must never go to work this job no longer wants.
    const live = job.tasks();
    for (const task of live) if (task.state === 'CREATED' || task.state === 'DEPLOYING') task.cancel();
    for (const task of live) task.cancel();
    // Hooks run after the tasks are CANCELING, so work they drop ends CANCELED rather than FAILED.
    const hooks = Object.entries(this.#executors).map(async ([key, executor]) => {
      try {
        await executor.cancelJob?.(jobId);
      } catch (error) {
        this.#logger.error({ err: toError(error), jobId, executor: key }, 'executor cancelJob hook failed');
      }
    });
    await Promise.all(hooks);
    // Late submissions join `tasks` while CANCELING; wait until the job has none left.
    while (job.size > 0) await Promise.all(job.tasks().map((task) => task.done));
    const tasks = [...(job.members?.values() ?? [])].map((task) => ({
      executionId: task.executionId,
      name: task.name,
      state: task.state as JobCancellationReport['tasks'][number]['state'],
    }));
    this.#setJobState(jobId, job, 'CANCELED');
    // After CANCELED the job id may be used again (a restart).
    if (this.#jobs.get(jobId) === job) this.#jobs.delete(jobId);
    return { jobId, state: 'CANCELED', tasks };
  }

  #setJobState(jobId: string, job: JobRecord, to: JobState): void {
    const from = job.state;
    job.state = to;
    this.#logger.info({ jobId, from, to }, 'job state changed');
    emitSafely(this.events, 'jobStateChanged', this.#logger, { jobId, from, to });
  }

  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    if (typeof options !== 'object' || options === null) {
      return Promise.reject(new TypeError('close options must be an object'));
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
          for (const job of this.#jobs.values()) for (const task of job.tasks()) task.hardStop();
        });
      } catch (error) {
        this.#logger.error(
          { err: toError(error) },
          'close: could not arm the grace timer; relying on each ladder',
        );
      }
    }
    await Promise.all([...this.#jobs.keys()].map((jobId) => this.cancelJob(jobId)));
    graceTimer?.cancel();
    await this.slotTable.close();
    const results = await Promise.allSettled(
      Object.values(this.#executors).map((executor) => executor.close()),
    );
    for (const result of results) {
      if (result.status === 'rejected') {
        this.#logger.error({ err: toError(result.reason) }, 'closing an executor failed');
      }
    }
    this.#health = 'closed';
    try {
      this.#logger.flush();
    } catch {
      /* a logger that cannot flush must not block close */
    }
    await this.#container?.dispose();
  }

  #onTaskDone(task: TaskImpl): void {
    this.#tasks?.delete(task.executionId);
    const job = task.jobRecord as JobRecord | undefined;
    if (!job) return;
    job.remove(task);
    if (job.size === 0 && job.state === 'RUNNING' && this.#jobs.get(task.jobId) === job) {
      this.#jobs.delete(task.jobId);
    }
  }

  #onFatal(error: Error, task: TaskImpl): void {
    if (this.#health !== 'closed') this.#health = 'fatal';
    task.logger.fatal({ err: error }, `fatal error: ${error.message}`);
    try {
      this.#fatalErrorHandler.onFatalError(error);
    } catch (handlerError) {
      this.#logger.error({ err: toError(handlerError) }, 'the fatal error handler threw');
    }
    emitSafely(this.events, 'fatalError', this.#logger, { error, task });
  }
}
