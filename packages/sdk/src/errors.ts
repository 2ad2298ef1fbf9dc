/**
 * Every error taskwarden raises is a {@link TaskwardenError} with a stable `code` from {@link ErrorCode}.
 *
 * @example
 * ```ts
 * try {
 *   runtime.slotTable.allocateSlot({ index: 1, jobId: 'j', allocationId: 'a-1' });
 * } catch (error) {
 *   if (TaskwardenError.is(error) && error.code === ErrorCode.DUPLICATE_ALLOCATION) retryLater();
 * }
 * ```
 * @module
 */

/** The codes of every {@link TaskwardenError}; values equal their names. */
export const ErrorCode = {
  /** An allocation id already holds another slot or belongs to another job. */
  DUPLICATE_ALLOCATION: 'DUPLICATE_ALLOCATION',
  /** The slot index is held by another allocation. */
  SLOT_OCCUPIED: 'SLOT_OCCUPIED',
  /** No slot is allocated for that allocation id. */
  SLOT_NOT_FOUND: 'SLOT_NOT_FOUND',
  /** A slot request is malformed (index out of range, empty ids, ...). */
  INVALID_SLOT_REQUEST: 'INVALID_SLOT_REQUEST',
  /** `submit` found no ACTIVE slot for the descriptor's allocation id and job. */
  NO_ACTIVE_SLOT: 'NO_ACTIVE_SLOT',
  /** The descriptor is malformed. */
  INVALID_DESCRIPTOR: 'INVALID_DESCRIPTOR',
  /** The descriptor names an executor the runtime does not have. */
  UNKNOWN_EXECUTOR: 'UNKNOWN_EXECUTOR',
  /** A live task already has that execution id. */
  DUPLICATE_EXECUTION_ID: 'DUPLICATE_EXECUTION_ID',
  /** The runtime is closing or closed. */
  RUNTIME_CLOSED: 'RUNTIME_CLOSED',
  /** The runtime hit a fatal error and refuses new work. */
  RUNTIME_FATAL: 'RUNTIME_FATAL',
  /** The abort reason given to a task's signal when it is cancelled. */
  TASK_CANCELLED: 'TASK_CANCELLED',
  /** The task was failed from outside with `task.fail()` without an Error cause. */
  TASK_FAILED_EXTERNALLY: 'TASK_FAILED_EXTERNALLY',
  /** The work did not stop within `cancellation.timeoutMs`. */
  CANCELLATION_TIMEOUT: 'CANCELLATION_TIMEOUT',
  /** A stage of the cancellation ladder could not be armed. */
  CANCELLATION_ARMING_FAILED: 'CANCELLATION_ARMING_FAILED',
  /** The executor could not launch the work. */
  LAUNCH_FAILED: 'LAUNCH_FAILED',
  /** The invokable reference is not usable (no such module, no such export, no `invoke`). */
  INVALID_INVOKABLE: 'INVALID_INVOKABLE',
  /** An input or result cannot be copied across a thread or process boundary. */
  SERIALIZATION_FAILED: 'SERIALIZATION_FAILED',
  /** The slot was freed while the task ran. */
  SLOT_RELEASED: 'SLOT_RELEASED',
  /** A worker thread exited while running a task. */
  WORKER_EXITED: 'WORKER_EXITED',
  /** A child process exited while running a task. */
  PROCESS_EXITED: 'PROCESS_EXITED',
  /** A worker or child sent a message that breaks the protocol. */
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  /** The executor is closed. */
  EXECUTOR_CLOSED: 'EXECUTOR_CLOSED',
  /** A non-Error value was thrown; it is kept as `value`. */
  NON_ERROR_THROWN: 'NON_ERROR_THROWN',
  // @taskwarden/cluster-nats
  /** The agent running a remote task was lost (its lease ran out or was released); the work has stopped. */
  AGENT_LOST: 'AGENT_LOST',
  /** None of the cluster's NATS servers could be reached. */
  CLUSTER_UNREACHABLE: 'CLUSTER_UNREACHABLE',
  /** The NATS server is older than the minimum or has no JetStream. */
  UNSUPPORTED_SERVER: 'UNSUPPORTED_SERVER',
  /** A live agent already holds the lease of that agent name. */
  LEASE_HELD: 'LEASE_HELD',
} as const;

/** One of the {@link ErrorCode} values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const BRAND = Symbol.for('@taskwarden/sdk:TaskwardenError');

/** Options common to every taskwarden error. */
export interface TaskwardenErrorOptions {
  /** The underlying error. */
  cause?: unknown;
}

/**
 * Base class of every error taskwarden throws or reports.
 *
 * `instanceof` works across two loaded copies of the SDK (a brand registered with `Symbol.for`),
 * which matters when an executor package resolves its own copy.
 */
export class TaskwardenError extends Error {
  /** A stable machine-readable code. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: TaskwardenErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }

  override get name(): string {
    return this.constructor.name;
  }

  /** True for any taskwarden error, from any loaded copy of the SDK. */
  static is(value: unknown): value is TaskwardenError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  // `this` is the class on the right of `instanceof`, which is the point of the override.
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being tested against
    if (this === TaskwardenError) return TaskwardenError.is(value);
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being tested against
    return Function.prototype[Symbol.hasInstance].call(this, value) || sameNamedBranded(this, value);
  }
}

// A subclass from another copy of the SDK has the same name and the brand.
function sameNamedBranded(ctor: { name: string }, value: unknown): boolean {
  if (!TaskwardenError.is(value)) return false;
  let proto = Object.getPrototypeOf(value);
  while (proto && proto !== Error.prototype) {
    if (proto.constructor?.name === ctor.name) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

/** `allocateSlot` with an allocation id that holds another index or belongs to another job. */
export class DuplicateAllocationError extends TaskwardenError {
  readonly allocationId: string;
  readonly existingIndex: number;
  readonly requestedIndex: number;
  readonly existingJobId: string;
  readonly requestedJobId: string;

  constructor(ctx: {
    allocationId: string;
    existingIndex: number;
    requestedIndex: number;
    existingJobId: string;
    requestedJobId: string;
  }) {
    super(
      ErrorCode.DUPLICATE_ALLOCATION,
      `allocation ${ctx.allocationId} already holds slot ${ctx.existingIndex} for job ${ctx.existingJobId}; ` +
        `refusing slot ${ctx.requestedIndex} for job ${ctx.requestedJobId}`,
    );
    this.allocationId = ctx.allocationId;
    this.existingIndex = ctx.existingIndex;
    this.requestedIndex = ctx.requestedIndex;
    this.existingJobId = ctx.existingJobId;
    this.requestedJobId = ctx.requestedJobId;
  }
}

/** `allocateSlot` for an index held by another allocation. */
export class SlotOccupiedError extends TaskwardenError {
  readonly index: number;
  readonly occupiedBy: string;
  readonly requestedBy: string;

  constructor(ctx: { index: number; occupiedBy: string; requestedBy: string }) {
    super(
      ErrorCode.SLOT_OCCUPIED,
      `slot ${ctx.index} is held by allocation ${ctx.occupiedBy}; refusing allocation ${ctx.requestedBy}`,
    );
    this.index = ctx.index;
    this.occupiedBy = ctx.occupiedBy;
    this.requestedBy = ctx.requestedBy;
  }
}

/** No slot is allocated for the allocation id. */
export class SlotNotFoundError extends TaskwardenError {
  readonly allocationId: string;

  constructor(allocationId: string) {
    super(ErrorCode.SLOT_NOT_FOUND, `no slot is allocated for allocation ${String(allocationId)}`);
    this.allocationId = allocationId;
  }
}

/** A malformed slot request. */
export class InvalidSlotRequestError extends TaskwardenError {
  /** The request field at fault. */
  readonly field: string;

  constructor(field: string, message: string) {
    super(ErrorCode.INVALID_SLOT_REQUEST, `invalid slot request: ${field} ${message}`);
    this.field = field;
  }
}

/** A descriptor `submit` refuses; `code` says why. */
export class TaskSubmissionError extends TaskwardenError {
  readonly executionId: string | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: TaskwardenErrorOptions & { executionId?: string | undefined },
  ) {
    super(code, message, options);
    this.executionId = options?.executionId;
  }
}

/** The runtime hit a fatal error; it refuses new submissions until the host restarts it. */
export class RuntimeFatalError extends TaskwardenError {
  constructor(
    message = 'the runtime hit a fatal error and accepts no new work',
    options?: TaskwardenErrorOptions,
  ) {
    super(ErrorCode.RUNTIME_FATAL, message, options);
  }
}

/** The reason a cancelled task's `AbortSignal` carries. */
export class TaskCancelledError extends TaskwardenError {
  readonly executionId: string;

  constructor(executionId: string, message = `task ${executionId} was cancelled`) {
    super(ErrorCode.TASK_CANCELLED, message);
    this.executionId = executionId;
  }
}

/** The work of a task did not stop within `cancellation.timeoutMs`; reported to the fatal handler. */
export class CancellationTimeoutError extends TaskwardenError {
  readonly executionId: string;
  readonly timeoutMs: number;

  constructor(ctx: { executionId: string; taskName: string; timeoutMs: number }) {
    super(
      ErrorCode.CANCELLATION_TIMEOUT,
      `task ${ctx.taskName} (${ctx.executionId}) did not stop within ${ctx.timeoutMs} ms of being cancelled`,
    );
    this.executionId = ctx.executionId;
    this.timeoutMs = ctx.timeoutMs;
  }
}

/** A stage of the cancellation ladder could not be armed; the task was escalated at once. */
export class CancellationArmingError extends TaskwardenError {
  readonly executionId: string;

  constructor(ctx: { executionId: string; taskName: string }, cause: unknown) {
    super(
      ErrorCode.CANCELLATION_ARMING_FAILED,
      `could not arm the cancellation of task ${ctx.taskName} (${ctx.executionId}): ${describe(cause)}`,
      { cause },
    );
    this.executionId = ctx.executionId;
  }
}

/** The invokable reference cannot be used. */
export class InvalidInvokableError extends TaskwardenError {
  constructor(message: string, options?: TaskwardenErrorOptions) {
    super(ErrorCode.INVALID_INVOKABLE, message, options);
  }
}

/** An input or result cannot cross a thread or process boundary. */
export class SerializationError extends TaskwardenError {
  /** Which value: `'input'` or `'result'`. */
  readonly what: 'input' | 'result' | 'message';

  constructor(what: 'input' | 'result' | 'message', options?: TaskwardenErrorOptions) {
    super(
      ErrorCode.SERIALIZATION_FAILED,
      `the task ${what} cannot be copied: ${describe(options?.cause)}`,
      options,
    );
    this.what = what;
  }
}

/** A worker or child broke the messaging protocol. */
export class ProtocolError extends TaskwardenError {
  constructor(message: string, options?: TaskwardenErrorOptions) {
    super(ErrorCode.PROTOCOL_ERROR, message, options);
  }
}

/** The executor was closed before or while the task ran. */
export class ExecutorClosedError extends TaskwardenError {
  constructor(executorName: string) {
    super(ErrorCode.EXECUTOR_CLOSED, `executor ${executorName} is closed`);
  }
}

/** A non-Error value was thrown by user code; it is kept in `value`. */
export class NonErrorThrownError extends TaskwardenError {
  readonly value: unknown;

  constructor(value: unknown) {
    super(ErrorCode.NON_ERROR_THROWN, `a non-Error value was thrown: ${describe(value)}`);
    this.value = value;
  }
}

/** Normalises anything thrown into an Error, keeping real errors as they are. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  // Errors from another realm (vm contexts) fail instanceof but are still errors.
  if (Object.prototype.toString.call(value) === '[object Error]') return value as Error;
  return new NonErrorThrownError(value);
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}
