import { InvalidDescriptorError, UnknownExecutorError } from '../errors.js';
import type { CancellationTimings } from '../interfaces/cancellation-strategy.js';
import type { Executor } from '../interfaces/executor.js';
import type { InvokableReference, ModuleUrlReference } from '../interfaces/invokable.js';
import type { TaskDescriptor } from '../interfaces/task.js';
import { isModuleReference } from '../internal/module-reference.js';
import type { TaskHost } from '../task/task-impl.js';
import { TaskImpl } from '../task/task-impl.js';
import { executionKeyOf, formatExecutionId, nextExecutionNumber } from './execution-id.js';
import { checkTimingsCoverHardStop, resolveTimings } from './options.js';

const DESCRIPTOR_KEYS = [
  'jobId',
  'allocationId',
  'invokable',
  'name',
  'executionId',
  'executor',
  'input',
  'cancellation',
  'signal',
  'attempt',
] as const;

// A switch over the keys rather than a Set lookup: every submit checks every key of its descriptor,
// and comparing a property name against constant strings is twice as fast as hashing it.
function isDescriptorKey(key: string): boolean {
  switch (key) {
    case 'jobId':
    case 'allocationId':
    case 'invokable':
    case 'input':
    case 'name':
    case 'executionId':
    case 'executor':
    case 'cancellation':
    case 'signal':
    case 'attempt':
      return true;
    default:
      return false;
  }
}

type Key = string | number;

function invalid(message: string, key?: Key, cause?: unknown): InvalidDescriptorError {
  return new InvalidDescriptorError(`invalid task descriptor: ${message}`, {
    executionId: key === undefined ? undefined : formatExecutionId(key),
    cause,
  });
}

function requireId(value: unknown, field: string, key?: Key): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(`${field} must be a non-empty string`, key);
  }
  return value;
}

/**
 * Validates descriptors and resolves their defaults for one runtime; throws
 * {@link TaskSubmissionError} (`INVALID_DESCRIPTOR` or `UNKNOWN_EXECUTOR`).
 * @internal
 */
export class DescriptorResolver {
  readonly #executors: Readonly<Record<string, Executor>>;
  readonly #defaultKey: string | undefined;
  /** The default executor, looked up once: most descriptors name none. */
  readonly #defaultExecutor: Executor | undefined;
  readonly #baseTimings: CancellationTimings;

  constructor(
    executors: Readonly<Record<string, Executor>>,
    defaultExecutor: string | undefined,
    baseTimings: CancellationTimings,
  ) {
    this.#executors = executors;
    this.#defaultKey = defaultExecutor;
    this.#defaultExecutor =
      defaultExecutor !== undefined && Object.hasOwn(executors, defaultExecutor)
        ? executors[defaultExecutor]
        : undefined;
    this.#baseTimings = baseTimings;
  }

  /** Validates `descriptor` (see the class comment) and makes its task, owned by `host`. */
  createTask(descriptor: TaskDescriptor, host: TaskHost): TaskImpl {
    return resolveDescriptor(
      descriptor,
      host,
      this.#executors,
      this.#defaultKey,
      this.#baseTimings,
      this.#defaultExecutor,
    );
  }
}

/**
 * Validates a descriptor, resolves its defaults and makes its task;
 * throws {@link TaskSubmissionError} (`INVALID_DESCRIPTOR` or `UNKNOWN_EXECUTOR`).
 * `defaultInstance` is `executors[defaultExecutor]` when the caller looked it up already.
 * @internal
 */
export function resolveDescriptor(
  descriptor: TaskDescriptor,
  host: TaskHost,
  executors: Readonly<Record<string, Executor>>,
  defaultExecutor: string | undefined,
  baseTimings: CancellationTimings,
  defaultInstance?: Executor,
): TaskImpl {
  if (typeof descriptor !== 'object' || descriptor === null) throw invalid('a descriptor must be an object');
  // A misspelt key (`executer`) would otherwise be ignored silently, e.g. running work on the wrong executor.
  for (const field in descriptor) {
    if (!isDescriptorKey(field))
      throw invalid(`unknown key '${field}' (known: ${DESCRIPTOR_KEYS.join(', ')})`);
  }
  // A generated id stays a number until someone reads it (see execution-id.ts).
  const key: Key =
    descriptor.executionId === undefined
      ? nextExecutionNumber()
      : executionKeyOf(requireId(descriptor.executionId, 'executionId'));
  const jobId = requireId(descriptor.jobId, 'jobId', key);
  const allocationId = requireId(descriptor.allocationId, 'allocationId', key);

  let executorKey = descriptor.executor;
  let executor: Executor;
  if (executorKey === undefined && defaultInstance !== undefined) {
    executorKey = defaultExecutor as string;
    executor = defaultInstance;
  } else {
    executorKey ??= defaultExecutor;
    if (executorKey === undefined) {
      throw new UnknownExecutorError(
        `the descriptor names no executor and the runtime has no defaultExecutor (executors: ${Object.keys(executors).join(', ')})`,
        { executionId: formatExecutionId(key) },
      );
    }
    if (typeof executorKey !== 'string' || !Object.hasOwn(executors, executorKey)) {
      throw new UnknownExecutorError(
        `unknown executor '${String(executorKey)}' (executors: ${Object.keys(executors).join(', ')})`,
        { executionId: formatExecutionId(key) },
      );
    }
    executor = executors[executorKey] as Executor;
  }

  const invokable = validateInvokable(descriptor.invokable, executor, key);

  if (descriptor.name !== undefined && typeof descriptor.name !== 'string') {
    throw invalid('name must be a string', key);
  }
  if (descriptor.signal !== undefined && !(descriptor.signal instanceof AbortSignal)) {
    throw invalid('signal must be an AbortSignal', key);
  }
  const attempt = descriptor.attempt ?? 1;
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw invalid('attempt must be an integer >= 1', key);
  }
  let timings = baseTimings;
  if (descriptor.cancellation !== undefined) {
    try {
      timings = resolveTimings(baseTimings, descriptor.cancellation, 'cancellation');
      checkTimingsCoverHardStop(timings, executor, executorKey, 'cancellation');
    } catch (error) {
      throw invalid((error as Error).message, key, error);
    }
  }
  return new TaskImpl(
    host,
    key,
    jobId,
    allocationId,
    descriptor.name ?? defaultName(invokable),
    attempt,
    executorKey,
    executor,
    invokable,
    descriptor.input,
    timings,
    descriptor.signal,
  );
}

/**
 * `{ module: new URL(...) }` (natural for `new URL('./task.js', import.meta.url)`) becomes
 * `{ module: url.href }`: a URL object cannot cross to a thread or process. Any other non-string
 * `module` is refused, saying what it is.
 */
function normalizeInvokable(
  invokable: InvokableReference | ModuleUrlReference,
  key: Key,
): InvokableReference {
  if (typeof invokable !== 'object' || invokable === null || !('module' in invokable)) return invokable;
  const module = (invokable as { module?: unknown }).module;
  if (typeof module === 'string' || typeof (invokable as { invoke?: unknown }).invoke === 'function') {
    return invokable as InvokableReference;
  }
  if (module instanceof URL) {
    const ref = invokable as { export?: unknown };
    return ref.export === undefined
      ? { module: module.href }
      : ({ module: module.href, export: ref.export } as InvokableReference);
  }
  throw invalid(
    `invokable.module must be a string (an absolute path, a file: URL or a package specifier) or a URL object, got ${
      module === null ? 'null' : typeof module
    }`,
    key,
  );
}

/** Validates the invokable and returns it, a `{ module: URL }` turned into `{ module: href }`. */
function validateInvokable(
  invokable: InvokableReference | ModuleUrlReference,
  executor: Executor,
  key: Key,
): InvokableReference {
  if (isModuleReference(invokable)) {
    if (invokable.module.length === 0) throw invalid('invokable.module must be a non-empty string', key);
    if (invokable.export !== undefined && (typeof invokable.export !== 'string' || invokable.export === '')) {
      throw invalid('invokable.export must be a non-empty string', key);
    }
    return invokable;
  }
  const isFunction = typeof invokable === 'function';
  const isObject =
    typeof invokable === 'object' &&
    invokable !== null &&
    typeof (invokable as { invoke?: unknown }).invoke === 'function';
  if (!isFunction && !isObject) {
    // Only here, off the path of valid invokables: a module given as a URL object, or a bad module.
    if (typeof invokable === 'object' && invokable !== null && 'module' in invokable) {
      return validateInvokable(normalizeInvokable(invokable, key), executor, key);
    }
    throw invalid('invokable must be a function, an object with invoke(), or { module, export? }', key);
  }
  if (executor.capabilities.isolation !== 'none') {
    throw invalid(
      `executor '${executor.name}' runs tasks in a separate ${executor.capabilities.isolation}: the invokable must be { module, export? }`,
      key,
    );
  }
  return invokable as InvokableReference;
}

// Function#name is a slow accessor, read for every task submitted without a name.
const functionNames = new WeakMap<object, string>();

function defaultName(invokable: InvokableReference): string {
  if (typeof invokable === 'function') {
    let name = functionNames.get(invokable);
    if (name === undefined) {
      name = invokable.name || 'task';
      functionNames.set(invokable, name);
    }
    return name;
  }
  if (isModuleReference(invokable)) {
    const base = invokable.module.split(/[\\/]/).pop() ?? invokable.module;
    return invokable.export && invokable.export !== 'default' ? `${base}#${invokable.export}` : base;
  }
  return 'task';
}
