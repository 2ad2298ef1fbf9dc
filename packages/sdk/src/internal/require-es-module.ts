/**
 * A faster first load of a task's ES module in a fresh child process or worker thread: `require()`
 * it synchronously (`require(esm)`, on by default since Node 20.19) instead of `import()`
 * (`importModule`).
 *
 * The executors' runners are CommonJS bundles (`child-runner.cjs`, `worker-runner.cjs`), so the
 * first `import()` in a fresh process or thread builds Node's ES module loader and reads the file
 * through `fs/promises` on the thread pool: measured here (2 cores, Node 20), ~4.5 ms for a one-line
 * module. `require()` loads the same module into the same module map synchronously in ~1.6 ms.
 *
 * A task must not be able to tell which way its module was loaded. The rules that keep it so:
 *
 * - Only the first module a process or thread loads, before any task code has run. A task may call
 *   `module.register()`, and in Node 20 hooks registered so see `import()` but not `require()`. Later
 *   calls give the same module what the first call gave it, and leave every other module to
 *   `import()`.
 * - Only when no option of the process may register module customization hooks (`--import`,
 *   `--loader`, `--experimental-loader`, `--require` in its `execArgv` or `NODE_OPTIONS`), for the
 *   same reason (a TypeScript loader, an instrumentation hook), nor under `--preserve-symlinks`,
 *   `--preserve-symlinks-main` or `NODE_PRESERVE_SYMLINKS=1` (then `import()` keeps a symlink's own
 *   URL), nor on a Node without `require(esm)`.
 * - Only an absolute path or a `file:` URL without a query or a hash: `import()` gives
 *   `file:///a.mjs?v=1` an instance of its own, `require()` takes a path and has one. Not package
 *   specifiers, whose `require` and `import` conditions may name different files.
 * - Only a module that is certainly an ES module by its real path, which is where Node decides the
 *   format (`.mjs`, or `.js` whose package scope says `"type": "module"`), and `require()`d by that
 *   path. A CommonJS module that threw would be dropped from `require`'s cache and evaluated again
 *   by `import()`.
 * - A failure leaves the module to `import()` only when `require()` touched nothing: the file does
 *   not exist (checked before `require()`), or the graph has a top-level `await`
 *   (`ERR_REQUIRE_ASYNC_MODULE`, refused before anything in it is evaluated; `import()` then loads it
 *   as usual). Any other failure (a missing export or dependency, a syntax error, a throwing top
 *   level) is the module's own, and Node cannot load a module again by `import()` once `require()`
 *   failed on it (an internal assertion, "Unexpected status of a module that is imported again after
 *   being required"): it is thrown here, worded as `importModule` words it, and thrown again for
 *   every later call for that module without loading anything again (`import()` rejects again too).
 *
 * In a worker thread the same checks hold: a worker runs the hooks its process's options register
 * (not those `module.register()` registers on the main thread at run time: Node 20 does not carry
 * those to workers, for `import()` nor `require()`), and sees the process's `execArgv` and a copy of
 * its `process.env`. One gap: a program that deletes `NODE_OPTIONS` from `process.env` after start-up
 * still has the hooks `NODE_OPTIONS` registered in its workers, and this check no longer sees them
 * (reading the start-up environment from `/proc/self/environ` costs ~0.5 ms per fresh thread, a
 * sixth of what this saves; the host could pass the flag instead).
 * @internal
 * @module
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInvokableError, toError } from '../errors.js';
import type { Invokable, ModuleReference } from '../interfaces/invokable.js';
import { toInvokable } from './load-invokable.js';

/**
 * Node options that may register module customization hooks, which `require()` would bypass, or
 * that keep symlinks' own URLs, which `require()` of the real path would not.
 */
const UNSAFE_OPTION =
  /(?:^|\s)(?:--import|--loader|--experimental-loader|--require|-r|--preserve-symlinks(?:-main)?)(?:[=\s]|$)/;

/**
 * Node loads ES modules with `require()` (20.19+, 22.12+; `--no-experimental-require-module` turns
 * it off) and no option of this process asks for what only `import()` would honour.
 */
const enabled =
  (process.features as { require_module?: boolean }).require_module === true &&
  !process.execArgv.some((option) => UNSAFE_OPTION.test(option)) &&
  !UNSAFE_OPTION.test(process.env.NODE_OPTIONS ?? '') &&
  process.env.NODE_PRESERVE_SYMLINKS !== '1';

/** Whether a module has been asked for yet in this process or thread: only the first may be required. */
let first = true;

/** The module required by the first call, by its `module` string: its namespace, or what it threw. */
const loaded = new Map<string, { readonly namespace: Record<string, unknown> } | { readonly error: Error }>();

/**
 * The namespace of `module` (an invokable's `module`: an absolute path or a `file:` URL), loaded
 * synchronously under the rules above; otherwise undefined (then import it as usual). Throws, as
 * `importModule` rejects, when the module fails to load in a way `import()` could not recover from.
 * Runs the module's top-level code: call it only where the module would be imported.
 * @internal
 */
export function requireEsModule(module: string): Record<string, unknown> | undefined {
  const known = loaded.get(module);
  if (known !== undefined) {
    if ('error' in known) throw known.error;
    return known.namespace;
  }
  if (!first) return undefined;
  first = false;
  const path = enabled ? realPathOf(module) : undefined;
  if (path === undefined || !isCertainlyEsm(path)) return undefined;
  let exported: unknown;
  try {
    exported = createRequire(path)(path);
  } catch (cause) {
    if ((cause as { code?: unknown } | null)?.code === 'ERR_REQUIRE_ASYNC_MODULE') return undefined;
    const error = new InvalidInvokableError(`cannot load module '${module}': ${toError(cause).message}`, {
      cause,
    });
    loaded.set(module, { error });
    throw error;
  }
  // A module that exports the name 'module.exports' gets that value from require(), not its
  // namespace; it is loaded all the same, and import() finds it in the module map.
  if (Object.prototype.toString.call(exported) !== '[object Module]') return undefined;
  const namespace = exported as Record<string, unknown>;
  loaded.set(module, { namespace });
  return namespace;
}

/**
 * The real path of the file `module` names, when it is an absolute path or a `file:` URL without a
 * query or a hash and the file exists; otherwise undefined. Not a directory: `require()` would load
 * its `index.js`, `import()` refuses it.
 */
function realPathOf(module: string): string | undefined {
  try {
    let path = module;
    if (module.startsWith('file:')) {
      const url = new URL(module);
      if (url.search !== '' || url.hash !== '') return undefined;
      path = fileURLToPath(url);
    }
    if (!isAbsolute(path)) return undefined;
    const real = realpathSync(path);
    // Only a directory exists with a trailing slash: ~0.03 ms, where a process's first statSync() takes ~0.16.
    return existsSync(`${real}/`) ? undefined : real;
  } catch {
    return undefined; // a missing file, a malformed URL: import() reports it
  }
}

/**
 * `.mjs`, or `.js` in a package scope with `"type": "module"` (Node's rule: the nearest package.json).
 * @internal
 */
export function isCertainlyEsm(path: string): boolean {
  if (path.endsWith('.mjs')) return true;
  if (!path.endsWith('.js')) return false;
  for (let dir = dirname(path); ; ) {
    if (dir.endsWith('/node_modules') || dir.endsWith('\\node_modules')) return false; // Node's scope lookup stops here
    let text: string | undefined;
    try {
      text = readFileSync(join(dir, 'package.json'), 'utf8');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return false; // cannot tell
    }
    if (text !== undefined) {
      try {
        return (JSON.parse(text) as { type?: unknown }).type === 'module';
      } catch {
        return false; // Node fails on it too; let import() say so
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

/**
 * The invokable of `{ module, export? }` when its module loads synchronously
 * ({@link requireEsModule}); undefined to leave loading to the SDK's `loadModuleInvokable`
 * (`import()`). Throws what `loadModuleInvokable` would reject with when the module fails to load or
 * its export is not invokable; a missing export is left to `loadModuleInvokable` to describe.
 * @internal
 */
export function loadModuleInvokableSync(ref: ModuleReference): Invokable | undefined {
  const exportName = ref.export ?? 'default';
  const namespace = requireEsModule(ref.module);
  // require() adds `__esModule` to the namespace; the SDK's import() has the true list of exports.
  if (!namespace || exportName === '__esModule' || namespace[exportName] === undefined) return undefined;
  return toInvokable(namespace[exportName], `export '${exportName}' of module '${ref.module}'`);
}
