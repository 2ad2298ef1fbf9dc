/**
 * Internals shared by the executor packages. Not a public API: anything here may change in any
 * release.
 * @internal
 * @module
 */
import '../polyfill.js';

export { isModuleReference } from '../runtime/descriptor.js';
export { DefaultTaskSlotTable } from '../slots/default-task-slot-table.js';
export { TaskImpl } from '../task/task-impl.js';
export { LazyAbort } from './lazy-abort.js';
export { importModule, loadModuleInvokable, resolveInvokable, toInvokable } from './load-invokable.js';
export type { AbortState } from './run-invokable.js';
export { callCancelHook, runInvokable } from './run-invokable.js';
export type { SerializedError } from './serialized-error.js';
export { deserializeError, isSerializedError, serializeError } from './serialized-error.js';
