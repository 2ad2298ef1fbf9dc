/**
 * Jobs and their cancellation (the Prefect semantics of the design's "Runtime and jobs").
 * @module
 */
import { toError } from '../errors.js';
import type { JobState, RuntimeEventEmitter } from '../interfaces/events.js';
import type { Executor } from '../interfaces/executor.js';
import type { Logger } from '../interfaces/logger.js';
import type { JobCancellationReport, JobSnapshot } from '../interfaces/runtime.js';
import { logSafely } from '../logging/log-safely.js';
import type { TaskImpl } from '../task/task-impl.js';
import { emitSafely } from './emit-safely.js';
import { IdMap } from './id-map.js';

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
 * The runtime's jobs: which live tasks belong to which job, and `cancelJob`.
 *
 * A job exists while it has live tasks or is being cancelled. Cancelling withdraws tasks that have
 * not started before it stops running ones, asks every executor to drop the job's queued work, and
 * ends when the job has no live task left; tasks submitted meanwhile are born CANCELED.
 * @internal
 */
export class JobRegistry {
  readonly #jobs = new IdMap<JobRecord>();
  readonly #events: RuntimeEventEmitter;
  readonly #logger: Logger;

  constructor(events: RuntimeEventEmitter, logger: Logger) {
    this.#events = events;
    this.#logger = logger;
  }

  /** The ids of the jobs with live tasks or a cancellation in progress. */
  jobIds(): string[] {
    return [...this.#jobs.keys()];
  }

  /** The live tasks of every job. */
  *liveTasks(): Iterable<TaskImpl> {
    for (const job of this.#jobs.values()) yield* job.tasks();
  }

  /** Every job with live tasks or a cancellation in progress. */
  snapshot(): JobSnapshot[] {
    return [...this.#jobs.entries()].map(([jobId, job]) => ({
      jobId,
      state: job.state,
      liveTasks: job.size,
    }));
  }

  /** A job's state: `'RUNNING'` or `'CANCELING'` while it exists, `undefined` otherwise. */
  stateOf(jobId: string): JobState | undefined {
    return this.#jobs.get(jobId)?.state;
  }

  /**
   * Adds a submitted task to its job. Returns false when the job is being cancelled: the caller
   * then cancels the task at once (born CANCELED, never invoked).
   */
  add(task: TaskImpl): boolean {
    const { jobId } = task;
    let job = this.#jobs.get(jobId);
    if (!job) {
      job = new JobRecord();
      this.#jobs.set(jobId, job);
    }
    job.add(task);
    if (job.state !== 'CANCELING') return true;
    job.members?.set(task.executionId, task);
    return false;
  }

  /** Forgets a task whose `done` resolved; a RUNNING job without tasks is forgotten too. */
  remove(task: TaskImpl): void {
    const job = task.jobRecord as JobRecord | undefined;
    if (!job) return;
    job.remove(task);
    if (job.size === 0 && job.state === 'RUNNING' && this.#jobs.get(task.jobId) === job) {
      this.#jobs.delete(task.jobId);
    }
  }

  /** Cancels every task of the job (see the class comment); one cancellation per job at a time. */
  cancel(jobId: string, executors: Readonly<Record<string, Executor>>): Promise<JobCancellationReport> {
    let job = this.#jobs.get(jobId);
    if (job?.cancellation) return job.cancellation;
    if (!job) {
      job = new JobRecord();
      this.#jobs.set(jobId, job);
    }
    const record = job;
    record.members = new Map(record.tasks().map((task) => [task.executionId, task]));
    this.#setState(jobId, record, 'CANCELING');
    record.cancellation = this.#run(jobId, record, executors);
    return record.cancellation;
  }

  async #run(
    jobId: string,
    job: JobRecord,
    executors: Readonly<Record<string, Executor>>,
  ): Promise<JobCancellationReport> {
    // Work that has not started is withdrawn first: stopping a running task frees capacity at once
    // (a worker thread may claim its next task the moment the current one ends), and that capacity
    // must never go to work this job no longer wants.
    const live = job.tasks();
    for (const task of live) if (task.state === 'CREATED' || task.state === 'DEPLOYING') task.cancel();
    for (const task of live) task.cancel();
    // Hooks run after the tasks are CANCELING, so work they drop ends CANCELED rather than FAILED.
    const hooks = Object.entries(executors).map(async ([key, executor]) => {
      try {
        await executor.cancelJob?.(jobId);
      } catch (error) {
        logSafely(
          this.#logger,
          'error',
          { err: toError(error), jobId, executor: key },
          'executor cancelJob hook failed',
        );
      }
    });
    await Promise.all(hooks);
    // Late submissions join the job while it is CANCELING; wait until it has none left.
    while (job.size > 0) await Promise.all(job.tasks().map((task) => task.done));
    const tasks = [...(job.members?.values() ?? [])].map((task) => ({
      executionId: task.executionId,
      name: task.name,
      state: task.state as JobCancellationReport['tasks'][number]['state'],
    }));
    this.#setState(jobId, job, 'CANCELED');
    // After CANCELED the job id may be used again (a restart).
    if (this.#jobs.get(jobId) === job) this.#jobs.delete(jobId);
    return { jobId, state: 'CANCELED', tasks };
  }

  #setState(jobId: string, job: JobRecord, to: JobState): void {
    const from = job.state;
    job.state = to;
    logSafely(this.#logger, 'info', { jobId, from, to }, 'job state changed');
    emitSafely(this.#events, 'jobStateChanged', this.#logger, { jobId, from, to });
  }
}
