import { randomUUID } from 'node:crypto';
import { ErrorCode, TaskSubmissionError } from '../errors.js';
import type { CancellationTimings } from '../interfaces/cancellation-strategy.js';
import type { Executor } from '../interfaces/executor.js';
import type { InvokableReference } from '../interfaces/invokable.js';
import type { TaskDescriptor } from '../interfaces/task.js';
import { isModuleReference } from '../internal/module-reference.js';
import type { TaskInit } from '../task/task-impl.js';
import { resolveTimings } from './options.js';

// Execution ids: a random prefix per process plus a counter. As unique as a UUID for practical
// purposes (the prefix has 64 random bits) and an order of magnitude cheaper per task.
const ID_PREFIX = randomUUID().replaceAll('-', '').slice(0, 16);
let idCounter = 0;

/** A new execution id, `<16 hex digits>-<base-36 counter>`. @internal */
export function newExecutionId(): string {
  return `${ID_PREFIX}-${(idCounter++).toString(36)}`;
}

const DESCRIPTOR_KEYS = new Set([
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
]);

function invalid(message: string, executionId?: string): TaskSubmissionError {
  return new TaskSubmissionError(ErrorCode.INVALID_DESCRIPTOR, `invalid task descriptor: ${message}`, {
    executionId,
  });
}

function requireId(value: unknown, field: string, executionId?: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(`${field} must be a non-empty string`, executionId);
  }
  return value;
}

/**
 * Validates a descriptor and resolves its defaults; throws {@link TaskSubmissionError}
 * (`INVALID_DESCRIPTOR` or `UNKNOWN_EXECUTOR`).
 * @internal
 */
export function resolveDescriptor(
  descriptor: TaskDescriptor,
  executors: Readonly<Record<string, Executor>>,
  defaultExecutor: string | undefined,
  baseTimings: CancellationTimings,
): TaskInit {
  if (typeof descriptor !== 'object' || descriptor === null) throw invalid('a descriptor must be an object');
  // A misspelt key (`executer`) would otherwise be ignored silently, e.g. running work on the wrong executor.
  for (const key in descriptor) {
    if (!DESCRIPTOR_KEYS.has(key))
      throw invalid(`unknown key '${key}' (known: ${[...DESCRIPTOR_KEYS].join(', ')})`);
  }
  const executionId =
    descriptor.executionId === undefined
      ? newExecutionId()
      : requireId(descriptor.executionId, 'executionId');
  const jobId = requireId(descriptor.jobId, 'jobId', executionId);
  const allocationId = requireId(descriptor.allocationId, 'allocationId', executionId);

  const executorKey = descriptor.executor ?? defaultExecutor;
  if (executorKey === undefined) {
    throw new TaskSubmissionError(
      ErrorCode.UNKNOWN_EXECUTOR,
      `the descriptor names no executor and the runtime has no defaultExecutor (executors: ${Object.keys(executors).join(', ')})`,
      { executionId },
    );
  }
  if (typeof executorKey !== 'string' || !Object.hasOwn(executors, executorKey)) {
    throw new TaskSubmissionError(
      ErrorCode.UNKNOWN_EXECUTOR,
      `unknown executor '${String(executorKey)}' (executors: ${Object.keys(executors).join(', ')})`,
      { executionId },
    );
  }
  const executor = executors[executorKey] as Executor;

  const invokable = descriptor.invokable;
  validateInvokable(invokable, executor, executionId);

  if (descriptor.name !== undefined && typeof descriptor.name !== 'string') {
    throw invalid('name must be a string', executionId);
  }
  if (descriptor.signal !== undefined && !(descriptor.signal instanceof AbortSignal)) {
    throw invalid('signal must be an AbortSignal', executionId);
  }
  const attempt = descriptor.attempt ?? 1;
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw invalid('attempt must be an integer >= 1', executionId);
  }
  let timings = baseTimings;
  if (descriptor.cancellation !== undefined) {
    try {
      timings = resolveTimings(baseTimings, descriptor.cancellation, 'cancellation');
    } catch (error) {
      throw new TaskSubmissionError(
        ErrorCode.INVALID_DESCRIPTOR,
        `invalid task descriptor: ${(error as Error).message}`,
        { executionId, cause: error },
      );
    }
  }
  return {
    executionId,
    jobId,
    allocationId,
    name: descriptor.name ?? defaultName(invokable),
    attempt,
    executorKey,
    executor,
    invokable,
    input: descriptor.input,
    timings,
    signal: descriptor.signal,
  };
}

function validateInvokable(invokable: unknown, executor: Executor, executionId: string): void {
  if (isModuleReference(invokable)) {
    if (invokable.module.length === 0)
      throw invalid('invokable.module must be a non-empty string', executionId);
    if (invokable.export !== undefined && (typeof invokable.export !== 'string' || invokable.export === '')) {
      throw invalid('invokable.export must be a non-empty string', executionId);
    }
    return;
  }
  const isFunction = typeof invokable === 'function';
  const isObject =
    typeof invokable === 'object' &&
    invokable !== null &&
    typeof (invokable as { invoke?: unknown }).invoke === 'function';
  if (!isFunction && !isObject) {
    throw invalid(
      'invokable must be a function, an object with invoke(), or { module, export? }',
      executionId,
    );
  }
  if (executor.capabilities.isolation !== 'none') {
    throw invalid(
      `executor '${executor.name}' runs tasks in a separate ${executor.capabilities.isolation}: the invokable must be { module, export? }`,
      executionId,
    );
  }
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
