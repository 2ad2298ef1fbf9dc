/**
 * Internals shared by the executor packages, including the code that runs inside worker threads
 * and child processes. Not a public API: anything here may change in any release.
 *
 * Kept light on purpose: no DI container, no runtime classes, nothing decorated. Every fresh worker
 * or child process imports it, and importing the whole SDK cost a child about 35 ms at start-up.
 * @internal
 * @module
 */

export type { LogLevel } from '../logging/log-safely.js';
export { logSafely } from '../logging/log-safely.js';
export { LazyAbort } from './lazy-abort.js';
export { importModule, loadModuleInvokable, resolveInvokable, toInvokable } from './load-invokable.js';
export { isModuleReference } from './module-reference.js';
export { isCertainlyEsm, loadModuleInvokableSync, requireEsModule } from './require-es-module.js';
export type { AbortState } from './run-invokable.js';
export { callCancelHook, runInvokable } from './run-invokable.js';
export type { SerializedError } from './serialized-error.js';
export { deserializeError, isSerializedError, serializeError } from './serialized-error.js';
