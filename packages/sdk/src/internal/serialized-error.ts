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
    errorClasses.set(String((value as ErrorClass).prototype.name), value as ErrorClass);
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

/** Reads `object[key]`; a getter or Proxy trap that throws reads as `undefined`. */
function read(object: object, key: PropertyKey): unknown {
  try {
    return (object as Record<PropertyKey, unknown>)[key];
  } catch {
    return undefined;
  }
}

function ownKeys(object: object): string[] {
  try {
    return Object.keys(object);
  } catch {
    return [];
  }
}

/**
 * Flattens an error (or anything thrown) for another thread or process. Never throws, whatever the
 * value: getters and Proxy traps that throw read as missing.
 * @internal
 */
export function serializeError(value: unknown, depth = 0): SerializedError {
  const error = errors.toError(value);
  const props: Record<string, unknown> = {};
  for (const key of ownKeys(error)) {
    if (key === 'code' || key === 'cause' || key === 'stack' || key === 'message') continue;
    const field = read(error, key);
    if (cloneable(field)) props[key] = field;
  }
  if (error instanceof errors.NonErrorThrownError) {
    // Not enumerable on the error (loggers must not walk into it), but it is what was thrown.
    props.value = cloneable(error.value) ? error.value : errors.describe(error.value);
  }
  let cause: SerializedError['cause'];
  const rawCause = read(error, 'cause');
  if (rawCause !== undefined && depth < MAX_CAUSE_DEPTH) {
    cause = errors.isError(rawCause)
      ? serializeError(rawCause, depth + 1)
      : cloneable(rawCause)
        ? { value: rawCause }
        : { value: errors.safeString(rawCause) };
  }
  const code = read(error, 'code');
  const name = read(error, 'name');
  const message = read(error, 'message');
  const stack = read(error, 'stack');
  return {
    __taskwardenError: 1,
    name: typeof name === 'string' ? name : 'Error',
    message: typeof message === 'string' ? message : errors.safeString(message),
    ...(typeof stack === 'string' ? { stack } : {}),
    ...(code === undefined || !cloneable(code) ? {} : { code }),
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
    Object.defineProperty(error, key, { value, writable: true, enumerable: true, configurable: true });
  }
  if (serialized.cause !== undefined) {
    const cause = isSerializedError(serialized.cause)
      ? deserializeError(serialized.cause)
      : serialized.cause.value;
    Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true });
  }
  return error;
}
