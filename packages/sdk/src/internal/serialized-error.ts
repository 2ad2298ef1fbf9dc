import * as errors from '../errors.js';

/** An Error flattened for `postMessage` / IPC, keeping what structured clone drops. @internal */
export interface SerializedError {
  readonly __taskwardenError: 1;
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: unknown;
  /** Other own enumerable fields that survive a structured clone. */
  readonly props: Record<string, unknown>;
  readonly cause?: SerializedError | { readonly value: unknown };
}

const MAX_CAUSE_DEPTH = 8;

type ErrorClass = new (...args: never[]) => Error;

// The SDK's own error classes, so errors from a worker or child come back as instances of them.
const errorClasses = new Map<string, ErrorClass>();
for (const value of Object.values(errors) as unknown[]) {
  if (typeof value === 'function' && value.prototype instanceof Error) {
    errorClasses.set(value.name, value as ErrorClass);
  }
}

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** Flattens an error (or anything thrown) for another thread or process. @internal */
export function serializeError(value: unknown, depth = 0): SerializedError {
  const error = errors.toError(value);
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key === 'code' || key === 'cause' || key === 'stack' || key === 'message') continue;
    const field = (error as unknown as Record<string, unknown>)[key];
    if (cloneable(field)) props[key] = field;
  }
  let cause: SerializedError['cause'];
  if (error.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
    cause =
      error.cause instanceof Error
        ? serializeError(error.cause, depth + 1)
        : cloneable(error.cause)
          ? { value: error.cause }
          : { value: String(error.cause) };
  }
  const code = (error as { code?: unknown }).code;
  return {
    __taskwardenError: 1,
    name: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(code === undefined ? {} : { code }),
    props,
    ...(cause === undefined ? {} : { cause }),
  };
}

/** True for a value made by {@link serializeError}. @internal */
export function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof SerializedError, unknown>>;
  return (
    candidate.__taskwardenError === 1 &&
    typeof candidate.name === 'string' &&
    typeof candidate.message === 'string' &&
    (candidate.stack === undefined || typeof candidate.stack === 'string') &&
    typeof candidate.props === 'object' &&
    candidate.props !== null &&
    (candidate.cause === undefined || (typeof candidate.cause === 'object' && candidate.cause !== null))
  );
}

/**
 * Rebuilds a real Error with name, message, stack, code and fields. Errors of the SDK's own classes
 * come back as instances of those classes.
 * @internal
 */
export function deserializeError(serialized: SerializedError): Error {
  // It arrives from another thread or process: a malformed one becomes a ProtocolError, never a throw.
  if (!isSerializedError(serialized)) {
    return new errors.ProtocolError('received an error in an unreadable form');
  }
  const ctor = errorClasses.get(serialized.name);
  const error: Error = ctor ? Object.create(ctor.prototype) : new Error(serialized.message);
  if (ctor) {
    Object.defineProperty(error, 'message', {
      value: serialized.message,
      writable: true,
      configurable: true,
    });
    Object.defineProperty(error, Symbol.for('@taskwarden/sdk:TaskwardenError'), { value: true });
  } else if (error.name !== serialized.name) {
    Object.defineProperty(error, 'name', { value: serialized.name, writable: true, configurable: true });
  }
  Object.defineProperty(error, 'stack', {
    value: serialized.stack ?? `${serialized.name}: ${serialized.message}`,
    writable: true,
    configurable: true,
  });
  if (serialized.code !== undefined) {
    Object.defineProperty(error, 'code', {
      value: serialized.code,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  for (const [key, value] of Object.entries(serialized.props)) {
    (error as unknown as Record<string, unknown>)[key] = value;
  }
  if (serialized.cause !== undefined) {
    const cause = isSerializedError(serialized.cause)
      ? deserializeError(serialized.cause)
      : serialized.cause.value;
    Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true });
  }
  return error;
}
