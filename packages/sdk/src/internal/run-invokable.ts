import { toError } from '../errors.js';
import type { InvocationContext, Invokable } from '../interfaces/invokable.js';
import { logSafely } from '../logging/log-safely.js';

/** Something that says whether the task was cancelled, without creating an AbortSignal. */
export interface AbortState {
  readonly aborted: boolean;
  readonly reason: unknown;
}

/**
 * The part of running a task every executor shares, wherever it runs: `restore`, then `invoke`
 * unless the task was cancelled meanwhile, reporting RUNNING right before `invoke`.
 *
 * Returns `invoke`'s value directly when there is no `restore` (no extra promise on the hot path);
 * call it inside a `then` callback so a synchronous throw becomes a rejection. `abort` defaults to
 * the context's signal; pass a {@link LazyAbort} to avoid creating the signal.
 * @internal
 */
export function runInvokable(
  invokable: Invokable,
  context: InvocationContext,
  onRunning: () => void,
  abort: AbortState = context.signal,
): unknown {
  if (abort.aborted) throw abort.reason;
  if (invokable.restore) return restoreThenInvoke(invokable, context, onRunning, abort);
  onRunning();
  return invokable.invoke(context);
}

async function restoreThenInvoke(
  invokable: Invokable,
  context: InvocationContext,
  onRunning: () => void,
  abort: AbortState,
): Promise<unknown> {
  await invokable.restore?.(context);
  if (abort.aborted) throw abort.reason;
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
        logSafely(context.logger, 'warn', { err: toError(error) }, 'the invokable cancel() hook rejected'),
      );
    }
  } catch (error) {
    logSafely(context.logger, 'warn', { err: toError(error) }, 'the invokable cancel() hook threw');
  }
}
