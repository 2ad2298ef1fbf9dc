/**
 * The cookie that marks every process a worker task spawns: an environment variable its
 * descendants inherit, so they can be found in `/proc` even after they left the process group the
 * executor put them in (`setsid`, `detached: true`) and after the host has died.
 *
 * Value: `<pool nonce>.<thread index>.<task id>`. The nonce is random per executor, so a scan never
 * matches processes of another executor or another host process.
 * @internal
 * @module
 */

/** The variable's name. */
export const TREE_COOKIE = 'TASKWARDEN_WORKER_TREE';

/** The cookie prefix of every process spawned from one thread (ends with the separator). */
export function threadCookie(poolNonce: string, threadIndex: number): string {
  return `${poolNonce}.${threadIndex}.`;
}

/** The cookie prefix of every process spawned from any thread of one executor. */
export function poolCookie(poolNonce: string): string {
  return `${poolNonce}.`;
}
