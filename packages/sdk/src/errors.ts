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
  /** A remote agent running the task was lost (its lease expired): `@taskwarden/cluster-nats`. */
  AGENT_LOST: 'AGENT_LOST',
  /** None of the cluster's NATS servers could be reached: `@taskwarden/cluster-nats`. */
  CLUSTER_UNREACHABLE: 'CLUSTER_UNREACHABLE',
  /** The NATS server is older than the minimum or has no JetStream: `@taskwarden/cluster-nats`. */
  UNSUPPORTED_SERVER: 'UNSUPPORTED_SERVER',
  /** A live agent already holds the lease of that agent name: `@taskwarden/cluster-nats`. */
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
 * Gives an error class its explicit `name`: a data property on its prototype, so the stack's first
 * line has it, a minifier renaming the class changes nothing, and `error.name = ...` on an instance
 * still works. Call it from a `static {}` block of the class.
 */
export function nameErrorClass(ctor: abstract new (...args: never[]) => Error, name: string): void {
  Object.defineProperty(ctor.prototype, 'name', { value: name, writable: true, configurable: true });
}

/**
 * Base class of every error taskwarden throws or reports. Each code has its own class, whose `code`
 * is typed as that literal, so a `switch (error.code)` over {@link AnyTaskwardenError} narrows.
 *
 * `instanceof` works across two loaded copies of the SDK (a brand registered with `Symbol.for`),
 * which matters when an executor package resolves its own copy.
 */
export class TaskwardenError<TCode extends ErrorCode = ErrorCode> extends Error {
  /** A stable machine-readable code from {@link ErrorCode}. */
  readonly code: TCode;

  constructor(code: TCode, message: string, options?: TaskwardenErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for any taskwarden error, from any loaded copy of the SDK. */
  static is(value: unknown): value is TaskwardenError {
    try {
      return (
        typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true
      );
    } catch {
      return false; // a Proxy whose traps throw is nobody's error
    }
  }

  // `this` is the class on the right of `instanceof`, which is the point of the override.
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being tested against
    if (this === TaskwardenError) return TaskwardenError.is(value);
    try {
      // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass being tested against
      return Function.prototype[Symbol.hasInstance].call(this, value) || sameNamedBranded(this, value);
    } catch {
      return false;
    }
  }
}

// The base's name is its class name, also for a subclass of the integrator's that sets none; unlike
// a class getter, assigning `error.name` still works (it makes an own property).
Object.defineProperty(TaskwardenError.prototype, 'name', {
  get(this: Error): string {
    return this.constructor.name;
  },
  set(this: Error, value: unknown) {
    Object.defineProperty(this, 'name', { value, writable: true, configurable: true });
  },
  configurable: true,
});

// A subclass from another copy of the SDK has the same explicit name (on its prototype; a 0.1 copy
// had it only as the class name) and the brand.
function sameNamedBranded(ctor: { prototype: { name?: unknown } }, value: unknown): boolean {
  if (!TaskwardenError.is(value)) return false;
  const name = ctor.prototype.name;
  let proto = Object.getPrototypeOf(value);
  while (proto && proto !== Error.prototype) {
    if (Object.hasOwn(proto, 'name') ? proto.name === name : proto.constructor?.name === name) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

/** `allocateSlot` with an allocation id that holds another index or belongs to another job. */
export class DuplicateAllocationError extends TaskwardenError<typeof ErrorCode.DUPLICATE_ALLOCATION> {
  static {
    nameErrorClass(DuplicateAllocationError, 'DuplicateAllocationError');
  }
  declare readonly name: 'DuplicateAllocationError';
  /** The allocation id of the request. */
  readonly allocationId: string;
  /** The index the allocation id already holds. */
  readonly existingIndex: number;
  /** The index the refused request asked for (-1: dynamic). */
  readonly requestedIndex: number;
  /** The job the allocation id already belongs to. */
  readonly existingJobId: string;
  /** The job of the refused request. */
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
export class SlotOccupiedError extends TaskwardenError<typeof ErrorCode.SLOT_OCCUPIED> {
  static {
    nameErrorClass(SlotOccupiedError, 'SlotOccupiedError');
  }
  declare readonly name: 'SlotOccupiedError';
  /** The requested index. */
  readonly index: number;
  /** The allocation id holding it. */
  readonly occupiedBy: string;
  /** The allocation id of the refused request. */
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
export class SlotNotFoundError extends TaskwardenError<typeof ErrorCode.SLOT_NOT_FOUND> {
  static {
    nameErrorClass(SlotNotFoundError, 'SlotNotFoundError');
  }
  declare readonly name: 'SlotNotFoundError';
  /** The unknown allocation id. */
  readonly allocationId: string;

  constructor(allocationId: string) {
    super(ErrorCode.SLOT_NOT_FOUND, `no slot is allocated for allocation ${safeString(allocationId)}`);
    this.allocationId = allocationId;
  }
}

/** A malformed slot request. */
export class InvalidSlotRequestError extends TaskwardenError<typeof ErrorCode.INVALID_SLOT_REQUEST> {
  static {
    nameErrorClass(InvalidSlotRequestError, 'InvalidSlotRequestError');
  }
  declare readonly name: 'InvalidSlotRequestError';
  /** The request field at fault. */
  readonly field: string;

  constructor(field: string, message: string) {
    super(ErrorCode.INVALID_SLOT_REQUEST, `invalid slot request: ${field} ${message}`);
    this.field = field;
  }
}

/** The codes a {@link TaskSubmissionError} can carry. */
export type SubmissionErrorCode =
  | typeof ErrorCode.NO_ACTIVE_SLOT
  | typeof ErrorCode.INVALID_DESCRIPTOR
  | typeof ErrorCode.UNKNOWN_EXECUTOR
  | typeof ErrorCode.DUPLICATE_EXECUTION_ID
  | typeof ErrorCode.RUNTIME_CLOSED;

/**
 * A descriptor `submit` refuses; `code` says why, and each code has its subclass
 * ({@link NoActiveSlotError}, {@link InvalidDescriptorError}, {@link UnknownExecutorError},
 * {@link DuplicateExecutionIdError}, {@link RuntimeClosedError}).
 */
export class TaskSubmissionError<
  TCode extends SubmissionErrorCode = SubmissionErrorCode,
> extends TaskwardenError<TCode> {
  /** The execution id of the refused task, when it had one. */
  readonly executionId: string | undefined;

  constructor(
    code: TCode,
    message: string,
    options?: TaskwardenErrorOptions & { executionId?: string | undefined },
  ) {
    super(code, message, options);
    this.executionId = options?.executionId;
  }
}

/** `submit` found no ACTIVE slot for the descriptor's allocation id and job. */
export class NoActiveSlotError extends TaskSubmissionError<typeof ErrorCode.NO_ACTIVE_SLOT> {
  static {
    nameErrorClass(NoActiveSlotError, 'NoActiveSlotError');
  }
  declare readonly name: 'NoActiveSlotError';

  constructor(message: string, options?: { executionId?: string | undefined }) {
    super(ErrorCode.NO_ACTIVE_SLOT, message, options);
  }
}

/** The descriptor (or a `cancelJob` argument) is malformed. */
export class InvalidDescriptorError extends TaskSubmissionError<typeof ErrorCode.INVALID_DESCRIPTOR> {
  static {
    nameErrorClass(InvalidDescriptorError, 'InvalidDescriptorError');
  }
  declare readonly name: 'InvalidDescriptorError';

  constructor(message: string, options?: TaskwardenErrorOptions & { executionId?: string | undefined }) {
    super(ErrorCode.INVALID_DESCRIPTOR, message, options);
  }
}

/** The descriptor names an executor the runtime does not have (or names none and there is no default). */
export class UnknownExecutorError extends TaskSubmissionError<typeof ErrorCode.UNKNOWN_EXECUTOR> {
  static {
    nameErrorClass(UnknownExecutorError, 'UnknownExecutorError');
  }
  declare readonly name: 'UnknownExecutorError';

  constructor(message: string, options?: { executionId?: string | undefined }) {
    super(ErrorCode.UNKNOWN_EXECUTOR, message, options);
  }
}

/** A live task already has that execution id. */
export class DuplicateExecutionIdError extends TaskSubmissionError<typeof ErrorCode.DUPLICATE_EXECUTION_ID> {
  static {
    nameErrorClass(DuplicateExecutionIdError, 'DuplicateExecutionIdError');
  }
  declare readonly name: 'DuplicateExecutionIdError';

  constructor(message: string, options: { executionId: string }) {
    super(ErrorCode.DUPLICATE_EXECUTION_ID, message, options);
  }
}

/** The runtime (or its slot table) is closing or closed: `submit` and `allocateSlot` refuse. */
export class RuntimeClosedError extends TaskSubmissionError<typeof ErrorCode.RUNTIME_CLOSED> {
  static {
    nameErrorClass(RuntimeClosedError, 'RuntimeClosedError');
  }
  declare readonly name: 'RuntimeClosedError';

  constructor(message: string, options?: { executionId?: string | undefined }) {
    super(ErrorCode.RUNTIME_CLOSED, message, options);
  }
}

/** The runtime hit a fatal error; it refuses new submissions until the host restarts it. */
export class RuntimeFatalError extends TaskwardenError<typeof ErrorCode.RUNTIME_FATAL> {
  static {
    nameErrorClass(RuntimeFatalError, 'RuntimeFatalError');
  }
  declare readonly name: 'RuntimeFatalError';

  constructor(
    message = 'the runtime hit a fatal error and accepts no new work',
    options?: TaskwardenErrorOptions,
  ) {
    super(ErrorCode.RUNTIME_FATAL, message, options);
  }
}

/** The reason a cancelled task's `AbortSignal` carries. */
export class TaskCancelledError extends TaskwardenError<typeof ErrorCode.TASK_CANCELLED> {
  static {
    nameErrorClass(TaskCancelledError, 'TaskCancelledError');
  }
  declare readonly name: 'TaskCancelledError';
  /** The cancelled task. */
  readonly executionId: string;

  constructor(executionId: string, message = `task ${executionId} was cancelled`) {
    super(ErrorCode.TASK_CANCELLED, message);
    this.executionId = executionId;
  }
}

/** The cause of a task failed from outside with `task.fail(cause)` where `cause` is not an `Error`. */
export class TaskFailedExternallyError extends TaskwardenError<typeof ErrorCode.TASK_FAILED_EXTERNALLY> {
  static {
    nameErrorClass(TaskFailedExternallyError, 'TaskFailedExternallyError');
  }
  declare readonly name: 'TaskFailedExternallyError';

  constructor(message = 'the task was failed from outside', options?: TaskwardenErrorOptions) {
    super(ErrorCode.TASK_FAILED_EXTERNALLY, message, options);
  }
}

/** The slot of a task was freed (or its slot table closed) while the task ran; the task is failed with it. */
export class SlotReleasedError extends TaskwardenError<typeof ErrorCode.SLOT_RELEASED> {
  static {
    nameErrorClass(SlotReleasedError, 'SlotReleasedError');
  }
  declare readonly name: 'SlotReleasedError';
  /** The slot's allocation id, when one slot was freed (not when the whole table closed). */
  readonly allocationId: string | undefined;

  constructor(message: string, options?: { allocationId?: string | undefined }) {
    super(ErrorCode.SLOT_RELEASED, message);
    this.allocationId = options?.allocationId;
  }
}

/** The work of a task did not stop within `cancellation.timeoutMs`; reported to the fatal handler. */
export class CancellationTimeoutError extends TaskwardenError<typeof ErrorCode.CANCELLATION_TIMEOUT> {
  static {
    nameErrorClass(CancellationTimeoutError, 'CancellationTimeoutError');
  }
  declare readonly name: 'CancellationTimeoutError';
  /** The task given up on. */
  readonly executionId: string;
  /** The watchdog's bound. */
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
export class CancellationArmingError extends TaskwardenError<typeof ErrorCode.CANCELLATION_ARMING_FAILED> {
  static {
    nameErrorClass(CancellationArmingError, 'CancellationArmingError');
  }
  declare readonly name: 'CancellationArmingError';
  /** The task escalated. */
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

/**
 * The executor could not launch the work (no thread or process could be started). Executors
 * subclass it: `ProcessSpawnError`, `WorkerStartError`.
 */
export class LaunchFailedError extends TaskwardenError<typeof ErrorCode.LAUNCH_FAILED> {
  constructor(message: string, options?: TaskwardenErrorOptions) {
    super(ErrorCode.LAUNCH_FAILED, message, options);
  }
}

/** The invokable reference cannot be used. */
export class InvalidInvokableError extends TaskwardenError<typeof ErrorCode.INVALID_INVOKABLE> {
  static {
    nameErrorClass(InvalidInvokableError, 'InvalidInvokableError');
  }
  declare readonly name: 'InvalidInvokableError';

  constructor(message: string, options?: TaskwardenErrorOptions) {
    super(ErrorCode.INVALID_INVOKABLE, message, options);
  }
}

/** An input or result cannot cross a thread, process or network boundary. */
export class SerializationError extends TaskwardenError<typeof ErrorCode.SERIALIZATION_FAILED> {
  static {
    nameErrorClass(SerializationError, 'SerializationError');
  }
  declare readonly name: 'SerializationError';
  /** Which value: the task's `'input'`, its `'result'`, or another `'message'`. */
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
export class ProtocolError extends TaskwardenError<typeof ErrorCode.PROTOCOL_ERROR> {
  static {
    nameErrorClass(ProtocolError, 'ProtocolError');
  }
  declare readonly name: 'ProtocolError';

  constructor(message: string, options?: TaskwardenErrorOptions) {
    super(ErrorCode.PROTOCOL_ERROR, message, options);
  }
}

/** The executor was closed before or while the task ran. */
export class ExecutorClosedError extends TaskwardenError<typeof ErrorCode.EXECUTOR_CLOSED> {
  static {
    nameErrorClass(ExecutorClosedError, 'ExecutorClosedError');
  }
  declare readonly name: 'ExecutorClosedError';

  constructor(executorName: string) {
    super(ErrorCode.EXECUTOR_CLOSED, `executor ${executorName} is closed`);
  }
}

/** A non-Error value was thrown (or rejected, or passed to `fail`) by user code; it is kept in `value`. */
export class NonErrorThrownError extends TaskwardenError<typeof ErrorCode.NON_ERROR_THROWN> {
  static {
    nameErrorClass(NonErrorThrownError, 'NonErrorThrownError');
  }
  declare readonly name: 'NonErrorThrownError';
  /** The thrown value, as it was (not enumerable: loggers and serializers do not walk into it). */
  declare readonly value: unknown;

  constructor(value: unknown) {
    super(ErrorCode.NON_ERROR_THROWN, `a non-Error value was thrown: ${describe(value)}`);
    Object.defineProperty(this, 'value', { value, enumerable: false });
  }
}

/**
 * Every error class of the SDK, as a union discriminated by `code`: `switch (error.code)` narrows.
 * Executor packages add their own (e.g. `WorkerExitedError`, `ProcessExitedError`).
 */
export type AnyTaskwardenError =
  | DuplicateAllocationError
  | SlotOccupiedError
  | SlotNotFoundError
  | InvalidSlotRequestError
  | NoActiveSlotError
  | InvalidDescriptorError
  | UnknownExecutorError
  | DuplicateExecutionIdError
  | RuntimeClosedError
  | RuntimeFatalError
  | TaskCancelledError
  | TaskFailedExternallyError
  | SlotReleasedError
  | CancellationTimeoutError
  | CancellationArmingError
  | LaunchFailedError
  | InvalidInvokableError
  | SerializationError
  | ProtocolError
  | ExecutorClosedError
  | NonErrorThrownError;

/**
 * True for a real `Error` (also from another realm), without ever throwing: a Proxy whose traps
 * throw, or an object whose `Symbol.toStringTag` getter throws, is not one.
 */
export function isError(value: unknown): value is Error {
  if (typeof value !== 'object' || value === null) return false;
  try {
    if (value instanceof Error) return true;
    // Errors from another realm (vm contexts) fail instanceof but are still errors.
    return Object.prototype.toString.call(value) === '[object Error]';
  } catch {
    return false;
  }
}

/**
 * Normalises anything thrown into an Error, keeping real errors as they are. Never throws, whatever
 * the value (a Proxy whose traps throw, a Symbol, a BigInt, getters that throw).
 */
export function toError(value: unknown): Error {
  if (isError(value)) return value;
  return new NonErrorThrownError(value);
}

/** `String(value)` that never throws. @internal */
export function safeString(value: unknown): string {
  try {
    return typeof value === 'symbol' ? value.toString() : String(value);
  } catch {
    return `[unprintable ${typeof value}]`;
  }
}

/** A short description of any value, for messages; never throws. @internal */
export function describe(value: unknown): string {
  try {
    if (isError(value)) {
      const message = value.message;
      return typeof message === 'string' ? message : safeString(message);
    }
    if (typeof value === 'string') return value;
    if (typeof value === 'bigint') return `${value}n`;
    if (typeof value !== 'object' || value === null) return safeString(value);
    const json = JSON.stringify(value);
    return json === undefined ? safeString(value) : json;
  } catch {
    return `[unprintable ${typeof value}]`;
  }
}
