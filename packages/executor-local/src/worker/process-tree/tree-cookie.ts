/**
 * The cookie that marks every process a worker task spawns: a token in an environment variable its
 * descendants inherit, so they can be found in `/proc` even after they left the process group the
 * executor put them in (`setsid`, `detached: true`), and after the host has died.
 *
 * The variable and its format are those of the process executor's tree machinery: one variable,
 * {@link TREE_COOKIE_ENV}, holding colon-separated tokens, appended to and never replaced, so that a
 * host that itself runs inside another executor's tree keeps that tree's token on everything its
 * threads spawn. A worker thread's spawns get two tokens: the thread's (what a sweep looks for) and
 * the task's (which task started it, for whoever inspects the process).
 * @internal
 * @module
 */

/** The variable that carries the tokens of the trees a process belongs to. */
export const TREE_COOKIE_ENV = 'TASKWARDEN_TREE';

/** The token of a thread's processes; the nonce is random per executor. */
export function threadToken(poolNonce: string, threadIndex: number): string {
  return `worker-${poolNonce}-${threadIndex}`;
}

/** The token of one task's processes. */
export function taskToken(threadToken: string, taskId: number): string {
  return `${threadToken}-task-${taskId}`;
}

/**
 * `envPairs` (`KEY=value` strings, as Node's spawn bindings take them) with `tokens` appended to
 * the {@link TREE_COOKIE_ENV} entry, which is created if missing.
 */
export function withTokens(envPairs: readonly unknown[], tokens: readonly string[]): unknown[] {
  const prefix = `${TREE_COOKIE_ENV}=`;
  const pairs = [...envPairs];
  const at = pairs.findIndex((pair) => typeof pair === 'string' && pair.startsWith(prefix));
  const added = tokens.join(':');
  if (at === -1) pairs.push(`${prefix}${added}`);
  else {
    const inherited = (pairs[at] as string).slice(prefix.length);
    pairs[at] = `${prefix}${inherited === '' ? added : `${inherited}:${added}`}`;
  }
  return pairs;
}

/** True when `environ` (NUL-separated, as in `/proc/<pid>/environ`) holds `token` in {@link TREE_COOKIE_ENV}. */
export function environHasToken(environ: Buffer, token: string): boolean {
  const key = `${TREE_COOKIE_ENV}=`;
  for (let at = environ.indexOf(key); at !== -1; at = environ.indexOf(key, at + 1)) {
    if (at !== 0 && environ[at - 1] !== 0) continue;
    let end = environ.indexOf(0, at);
    if (end === -1) end = environ.length;
    return environ
      .toString('latin1', at + key.length, end)
      .split(':')
      .includes(token);
  }
  return false;
}
