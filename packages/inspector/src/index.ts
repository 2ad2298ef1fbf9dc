/**
 * A live page and JSON API of a taskwarden runtime: the slot grid, live tasks with their progress and
 * how far each is down its cancellation ladder (with the stack it is stuck in), jobs, health, and
 * the agents of a cluster. No build step, no network: the page is served by this package.
 *
 * @example
 * ```ts
 * import { startInspector } from '@taskwarden/inspector';
 *
 * const inspector = await startInspector(runtime, {
 *   host: '127.0.0.1', // the default: loopback only
 *   port: 0,           // any free port
 *   token: 's3cret-and-long-enough', // without it the page is read-only
 * });
 * console.log(`${inspector.url}#token=s3cret-and-long-enough`);
 * await inspector.close(); // the runtime is untouched
 * ```
 * @module
 */

export type { AgentDirectory, AgentView } from './agent-directory.js';
export { ApiErrorCode } from './api-error-code.js';
export { CONTENT_SECURITY_POLICY } from './http/responses.js';
export type { Inspector, InspectorStats } from './inspector.js';
export type { InspectorOptions } from './inspector-options.js';
export type { JsonSafeLimits, JsonValue } from './serialize/safe-json.js';
export { PROGRESS_LIMITS, TRUNCATION_MARKER, toJsonSafe } from './serialize/safe-json.js';
export type { AgentJson, EndedTaskView, SnapshotView, TaskView } from './serialize/views.js';
export { startInspector } from './start-inspector.js';
