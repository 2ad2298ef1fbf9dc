/**
 * Executors that run tasks in the host process: {@link InlineExecutor} on the event loop.
 *
 * @example
 * ```js
 * import { createRuntime } from '@taskwarden/sdk';
 * import { InlineExecutor } from '@taskwarden/executor-local';
 *
 * const runtime = createRuntime({ numberOfSlots: 4, executors: { inline: new InlineExecutor() } });
 * ```
 * @module
 */
export { InlineExecutor } from './inline/inline-executor.js';
