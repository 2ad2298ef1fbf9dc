import type { Logger } from './logger.js';

/** Identity of a task, as the invokable sees it. */
export interface TaskInfo {
  /** Unique among the runtime's live tasks. */
  readonly executionId: string;
  /** The job the task belongs to. */
  readonly jobId: string;
  /** The slot allocation the task runs in. */
  readonly allocationId: string;
  /** The task's name (for logs and events). */
  readonly name: string;
  /** 1 for the first attempt; set by the integrator through the descriptor. */
  readonly attempt: number;
  /**
   * Set by executors that may reassign work (the cluster executor): a number that grows with every
   * (re)assignment of the task. Work that writes to outside systems can pass it along, so that a
   * stale holder is refused there.
   */
  readonly fencingToken?: number;
}

/** What an invokable receives. */
export interface InvocationContext<TInput = unknown> {
  /** The descriptor's `input` (a structured-clone copy in worker threads and child processes). */
  readonly input: TInput;
  /** Aborted with a `TaskCancelledError` when the task is cancelled or failed from outside. */
  readonly signal: AbortSignal;
  /** A pino logger bound to the task. */
  readonly logger: Logger;
  readonly task: TaskInfo;
  /**
   * Reports progress: a number from 0 to 1 or any cloneable value (`task.progress`, the
   * `taskProgress` event). Reports faster than they can be delivered are coalesced (the latest
   * wins); the last one arrives before the task's outcome.
   */
  reportProgress(value: unknown): void;
}

/**
 * A unit of work. Only `invoke` is required.
 *
 * - `restore` runs first (INITIALIZING); `invoke` is never called if the task was cancelled meanwhile.
 * - `cancel` is called once when cancellation is requested; errors it throws are logged, and a
 *   `cancel` that never returns blocks nothing.
 */
export interface Invokable<TInput = unknown, TResult = unknown> {
  /**
   * The work (RUNNING). What it returns (or resolves to) is the task's result; what it throws fails
   * the task, or ends it CANCELED once cancellation was requested.
   */
  invoke(context: InvocationContext<TInput>): TResult | Promise<TResult>;
  /** Runs first (INITIALIZING): restore state; if the task is cancelled meanwhile, `invoke` never runs. */
  restore?(context: InvocationContext<TInput>): void | Promise<void>;
  /**
   * Called once, right after the signal was aborted, when cancellation is requested (or the task is
   * failed from outside): a hook to stop work that does not watch the signal. What it throws or
   * rejects is logged; a `cancel` that never settles blocks nothing.
   */
  cancel?(context: InvocationContext<TInput>): void | Promise<void>;
}

/** A plain function is an invokable whose `invoke` it is. */
export type InvokableFunction<TInput = unknown, TResult = unknown> = (
  context: InvocationContext<TInput>,
) => TResult | Promise<TResult>;

/**
 * A module to import where the task runs (inside the worker or child for isolated executors).
 * `module` is an absolute path, a `file:` URL or a package specifier; `export` defaults to
 * `'default'`. The export may be an invokable object, a class whose instances have `invoke`, or a
 * function (then it is `invoke`).
 */
export interface ModuleReference {
  /** An absolute path, a `file:` URL or a package specifier, resolved where the task runs. */
  readonly module: string;
  /** The export to use. @default 'default' */
  readonly export?: string;
}

/**
 * A module given as a `URL` object (`new URL('./task.js', import.meta.url)`): the runtime turns it into
 * `{ module: url.href }` at `submit`, so executors only ever see {@link ModuleReference}.
 */
export interface ModuleUrlReference {
  /** The module's URL. */
  readonly module: URL;
  /** The export to use. @default 'default' */
  readonly export?: string;
}

/** Anything a descriptor may name as its work. Isolated executors accept only {@link ModuleReference}. */
export type InvokableReference<TInput = unknown, TResult = unknown> =
  | Invokable<TInput, TResult>
  | InvokableFunction<TInput, TResult>
  | ModuleReference;
