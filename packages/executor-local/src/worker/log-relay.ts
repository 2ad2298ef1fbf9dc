/**
 * The host's half of a worker task's logging: records posted by the thread's forwarding logger
 * (see `worker-logger.ts`) are written through the task's own host logger, so they keep its
 * bindings (`jobId`, `executionId`, `task`), destination and format.
 * @internal
 * @module
 */
import type { LaunchSpec } from '@taskwarden/sdk';
import { deserializeError, isSerializedError } from '@taskwarden/sdk/internal';
import type { LoggerInfo, LogMessage } from './protocol.js';
import { LEVEL_NAMES } from './protocol.js';

/**
 * The level value of the task logger (records below it are dropped in the worker); 0 when it
 * cannot be read. Reading `spec.logger` creates the task's child logger: read it once per executor.
 */
export function levelOf(spec: LaunchSpec): number {
  try {
    const value = (spec.logger as { levelVal?: unknown }).levelVal;
    return typeof value === 'number' ? value : 0;
  } catch {
    return 0;
  }
}

const TASK_KEYS = ['jobId', 'executionId', 'task'] as const;

/**
 * What the threads are told about the task loggers (see `LoggerInfo`), from one task's logger:
 * read once per executor, because reading `spec.logger` creates the task's child logger and
 * `bindings()` parses them. Never throws; what cannot be read or copied is left out.
 */
export function loggerInfoOf(spec: LaunchSpec): LoggerInfo {
  let bindings: Record<string, unknown> = {};
  let version = '';
  try {
    const logger = spec.logger;
    version = typeof logger.version === 'string' ? logger.version : '';
    bindings = { ...logger.bindings() };
  } catch {
    // A logger without bindings (or a hostile one): the worker's logger starts with none.
  }
  const { task } = spec;
  const bindsTask =
    bindings.jobId === task.jobId && bindings.executionId === task.executionId && bindings.task === task.name;
  if (bindsTask) for (const key of TASK_KEYS) delete bindings[key];
  for (const [key, value] of Object.entries(bindings)) {
    try {
      structuredClone(value);
    } catch {
      delete bindings[key];
    }
  }
  return { bindings, bindsTask, version };
}

/** Writes a worker's log record through the task's host logger, errors rebuilt. Never throws. */
export function relayLog(spec: LaunchSpec, [, , level, bindings, fields, msg, errType]: LogMessage): void {
  const name = LEVEL_NAMES[level];
  if (name === undefined) return;
  try {
    let logger = spec.logger;
    for (const child of bindings) logger = logger.child(child);
    let obj = fields;
    if (obj && isSerializedError(obj.err)) obj = { ...obj, err: typed(deserializeError(obj.err), errType) };
    if (obj) logger[name](obj, msg);
    else logger[name](msg ?? '');
  } catch {
    // A logger that throws must not break the task.
  }
}

/**
 * Gives a rebuilt error the constructor name the error had in the worker: pino's error serializer
 * writes it as `type` (`TypeError`, a class of the task's own), and a rebuilt error is a plain
 * `Error` unless it is one of the SDK's classes.
 */
function typed(error: Error, type: string | undefined): Error {
  if (type === undefined || constructorName(error) === type) return error;
  const named = Object.defineProperty(function TypedError() {}, 'name', { value: type });
  const prototype = Object.create(Object.getPrototypeOf(error), {
    constructor: { value: named, writable: true, configurable: true },
  });
  Object.setPrototypeOf(error, prototype);
  return error;
}

function constructorName(error: Error): unknown {
  try {
    return error.constructor?.name;
  } catch {
    return undefined;
  }
}
