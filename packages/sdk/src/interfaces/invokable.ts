import type { Logger } from './logger.js';

/** Identity of a task, as the invokable sees it. */
export interface TaskInfo {
  readonly executionId: string;
  readonly jobId: string;
  readonly allocationId: string;
  readonly name: string;
  /** 1 for the first attempt; set by the integrator through the descriptor. */
  readonly attempt: number;
  /**
   * Set by executors that (re)assign work across machines: a number that grows with every
   * (re)assignment, to pass to outside systems so that a stale holder is refused there.
   */
  readonly fencingToken?: number;
}

/** What an invokable receives. */
export interface InvocationContext<TInput = unknown> {
  readonly input: TInput;
  /** Aborted with a `TaskCancelledError` when the task is cancelled or failed from outside. */
  readonly signal: AbortSignal;
  /** A pino logger bound to the task. */
  readonly logger: Logger;
  readonly task: TaskInfo;
}

/**
 * A unit of work. Only `invoke` is required.
 *
 * - `restore` runs first (INITIALIZING); `invoke` is never called if the task was cancelled meanwhile.
 * - `cancel` is called once when cancellation is requested; errors it throws are logged, and a
 *   `cancel` that never returns blocks nothing.
 */
export interface Invokable<TInput = unknown, TResult = unknown> {
  invoke(context: InvocationContext<TInput>): TResult | Promise<TResult>;
  restore?(context: InvocationContext<TInput>): void | Promise<void>;
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
  readonly module: string;
  readonly export?: string;
}

/** Anything a descriptor may name as its work. Isolated executors accept only {@link ModuleReference}. */
export type InvokableReference<TInput = unknown, TResult = unknown> =
  | Invokable<TInput, TResult>
  | InvokableFunction<TInput, TResult>
  | ModuleReference;
