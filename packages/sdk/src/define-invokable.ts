import type { Invokable } from './interfaces/invokable.js';

/**
 * Types an invokable object; returns it unchanged.
 *
 * @example
 * ```ts
 * export default defineInvokable<{ file: string }, number>({
 *   async invoke({ input, signal }) { return await resize(input.file, { signal }); },
 *   cancel({ logger }) { logger.info('asked to stop'); },
 * });
 * ```
 */
export function defineInvokable<TInput = unknown, TResult = unknown>(
  invokable: Invokable<TInput, TResult>,
): Invokable<TInput, TResult> {
  return invokable;
}
