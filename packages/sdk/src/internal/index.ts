/**
 * Internals shared by `@taskwarden/executor-local` and `@taskwarden/executor-process`, including
 * the code that runs inside worker threads and child processes (the executors bundle it into their
 * runners at build time).
 *
 * **Not for third parties.** This subpath exists only because those two packages are built
 * separately. It changes whenever they need it to: it stays compatible only within one minor version
 * (the peer range the executors declare), and anything here may change or go in the next. An
 * executor of your own builds on the public SPI instead:
 * `BaseExecution` and the `Executor`/`LaunchSpec` types from `@taskwarden/sdk`, tested with
 * `launchDirectly` from `@taskwarden/sdk/testing` and `describeExecutorConformance` from
 * `@taskwarden/sdk/testing/conformance`.
 *
 * Kept light on purpose: no DI container, no runtime classes, nothing decorated. Every fresh worker
 * or child process imports it, and importing the whole SDK cost a child about 35 ms at start-up.
 * @internal
 * @module
 */

export { describe, SerializationError, safeString } from '../errors.js';
export type { LogLevel } from '../logging/log-safely.js';
export { logSafely } from '../logging/log-safely.js';
export { LazyAbort } from './lazy-abort.js';
export { importModule, loadModuleInvokable, resolveInvokable, toInvokable } from './load-invokable.js';
export { isModuleReference } from './module-reference.js';
export * from './process-tree/index.js';
export { isCertainlyEsm, loadModuleInvokableSync, requireEsModule } from './require-es-module.js';
export type { AbortState } from './run-invokable.js';
export { callCancelHook, runInvokable } from './run-invokable.js';
export type { SerializedError } from './serialized-error.js';
export { deserializeError, isSerializedError, serializeError } from './serialized-error.js';
