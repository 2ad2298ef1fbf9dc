import { toError } from '../errors.js';
import type { InvocationContext, Invokable } from '../interfaces/invokable.js';

/**
 * The part of running a task every executor shares, wherever it runs: `restore`, then `invoke`
 * unless the task was cancelled meanwhile, reporting RUNNING right before `invoke`.
 * @internal
 */
export async function runInvokable(
  invokable: Invokable,
  context: InvocationContext,
  onRunning: () => void,
): Promise<unknown> {
  const { signal } = context;
  signal.throwIfAborted();
  if (invokable.restore) {
    await invokable.restore(context);
    signal.throwIfAborted();
  }
  onRunning();
  return await invokable.invoke(context);
}

/**
 * Calls the invokable's optional `cancel()`; errors and rejections are logged, never propagated, and
 * a `cancel()` that never settles blocks nothing.
 * @internal
 */
export function callCancelHook(invokable: Invokable | undefined, context: InvocationContext): void {
  if (!invokable?.cancel) return;
  try {
    const returned = invokable.cancel(context);
    if (returned && typeof (returned as Promise<void>).then === 'function') {
      (returned as Promise<void>).then(undefined, (error: unknown) =>
        context.logger.warn({ err: toError(error) }, 'the invokable cancel() hook rejected'),
      );
    }
  } catch (error) {
    context.logger.warn({ err: toError(error) }, 'the invokable cancel() hook threw');
  }
}
