/** Resolves after `ms` milliseconds (a real timer). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `predicate` every 5 ms until it is true; rejects with `timed out after <ms> ms waiting for
 * <what>` after `ms` milliseconds (`what` may be a function, evaluated only then, to describe the
 * state at the time).
 *
 * @example
 * ```ts
 * await until(() => task.state === 'RUNNING', 'the task to run');
 * ```
 */
export async function until(
  predicate: () => boolean,
  what: string | (() => string),
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await sleep(5);
  }
}
