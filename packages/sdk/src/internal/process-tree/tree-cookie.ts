/**
 * The environment cookie: a token every process of a tree inherits in its environment unless it
 * starts a program with another one, so that a scan of /proc finds descendants that left the tree's
 * process group and session (Jenkins' ProcessTreeKiller does the same).
 * @internal
 * @module
 */
/** The variable that carries the cookies of the trees a process belongs to, colon-separated. @internal */
export const TREE_COOKIE_ENV = 'TASKWARDEN_TREE';

/** A fresh cookie: unique on this machine (the creator's pid and 48 random bits). @internal */
export function newTreeCookie(): string {
  // The Web Crypto global, not `node:crypto`: this module is part of every fresh child.
  return `${process.pid}-${globalThis.crypto.randomUUID().slice(-12)}`;
}

/**
 * `env` with `cookie` appended to its {@link TREE_COOKIE_ENV} tokens. Appended, not replaced: a
 * task that runs an executor of its own still leaves its own cookie on every grandchild.
 * @internal
 */
export function withTreeCookie(env: NodeJS.ProcessEnv, cookie: string): NodeJS.ProcessEnv {
  const inherited = env[TREE_COOKIE_ENV];
  return { ...env, [TREE_COOKIE_ENV]: inherited ? `${inherited}:${cookie}` : cookie };
}

/**
 * `pairs` (`KEY=value` strings, as Node's spawn bindings take an environment) with `cookie` (one
 * cookie, or several joined by `:`) appended to the {@link TREE_COOKIE_ENV} entry, which is added
 * when there is none. What {@link withTreeCookie} does to an environment object.
 * @internal
 */
export function withTreeCookiePairs(pairs: readonly string[], cookie: string): string[] {
  const prefix = `${TREE_COOKIE_ENV}=`;
  const result = [...pairs];
  const at = result.findIndex((pair) => pair.startsWith(prefix));
  if (at === -1) result.push(`${prefix}${cookie}`);
  else {
    const inherited = (result[at] as string).slice(prefix.length);
    result[at] = `${prefix}${inherited === '' ? cookie : `${inherited}:${cookie}`}`;
  }
  return result;
}

/**
 * True when `environ` (a NUL-separated `/proc/<pid>/environ`) holds {@link TREE_COOKIE_ENV} with
 * `cookie` as one of its tokens.
 * @internal
 */
export function environHasCookie(environ: Buffer, cookie: string): boolean {
  const key = `${TREE_COOKIE_ENV}=`;
  let at = environ.indexOf(key);
  while (at !== -1) {
    if (at === 0 || environ[at - 1] === 0) {
      let end = environ.indexOf(0, at);
      if (end === -1) end = environ.length;
      return environ
        .toString('latin1', at + key.length, end)
        .split(':')
        .includes(cookie);
    }
    at = environ.indexOf(key, at + 1);
  }
  return false;
}
