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
 * What a task sees does not change: its module is evaluated once, by whichever path loads it, and
 * every failure here leaves the module to the SDK's `import()`, which reports it exactly as it
 * always does. That holds because only modules that are certainly ES modules are loaded here
 * (`.mjs`, or `.js` whose package scope says `"type": "module"`): an ES module's evaluation error
 * stays in the module map (the later `import()` rejects with it, nothing runs twice), and a module
 * graph with a top-level `await` is refused before anything in it is evaluated
 * (`ERR_REQUIRE_ASYNC_MODULE`), so `import()` then loads it as usual. A CommonJS module that threw
 * would be dropped from `require`'s cache and evaluated again by `import()`: those are never loaded
 * here, nor package specifiers (whose `require` and `import` conditions may name different files),
 * nor anything on a Node without `require(esm)`. Nor when the process may have module
 * customization hooks (`--import`, `--loader`, `--experimental-loader`, `--require` in its
 * `execArgv` or `NODE_OPTIONS`): in Node 20 those hooks see `import()` but not `require()`, and a
 * task's module must load through them (a TypeScript loader, an instrumentation hook).
 *
 * In a worker thread the same check holds: a worker runs the hooks its process's options register
 * (not those `module.register()` registers on the main thread at run time: Node 20 does not carry
 * those to workers, for `import()` nor `require()`), and sees the process's `execArgv` and a copy of
 * its `process.env`. One gap: a program that deletes `NODE_OPTIONS` from `process.env` after start-up
 * still has the hooks `NODE_OPTIONS` registered in its workers, and this check no longer sees them
 * (reading the start-up environment from `/proc/self/environ` costs ~0.5 ms per fresh thread, a
 * sixth of what this saves; the host could pass the flag instead).
 * @internal
 * @module
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Invokable, ModuleReference } from '../interfaces/invokable.js';
import { toInvokable } from './load-invokable.js';

/** Node options that may register module customization hooks, which `require()` would bypass. */
const HOOK_OPTION = /(?:^|\s)(?:--import|--loader|--experimental-loader|--require|-r)(?:[=\s]|$)/;

/**
 * Node loads ES modules with `require()` (20.19+, 22.12+; `--no-experimental-require-module` turns
 * it off) and no option of this process may have registered hooks that only `import()` would honour.
 */
const enabled =
  (process.features as { require_module?: boolean }).require_module === true &&
  !process.execArgv.some((option) => HOOK_OPTION.test(option)) &&
  !HOOK_OPTION.test(process.env.NODE_OPTIONS ?? '');

/** Per module: its namespace, or undefined when it is the SDK's to load. */
const loaded = new Map<string, Record<string, unknown> | undefined>();

/**
 * The namespace of `module` (an invokable's `module`: an absolute path or a `file:` URL), loaded
 * synchronously when it is certainly an ES module and Node can; otherwise, or when loading fails,
 * undefined (then import it as usual: that reports the failure). Never throws. Runs the module's
 * top-level code: call it only where the module would be imported.
 * @internal
 */
export function requireEsModule(module: string): Record<string, unknown> | undefined {
  if (loaded.has(module)) return loaded.get(module);
  let namespace: Record<string, unknown> | undefined;
  if (enabled) {
    try {
      const path = module.startsWith('file:') ? fileURLToPath(module) : module;
      if (isAbsolute(path) && isCertainlyEsm(path)) {
        const exported: unknown = createRequire(path)(path);
        // A module that exports the name 'module.exports' gets that value from require(), not its namespace.
        if (Object.prototype.toString.call(exported) === '[object Module]') {
          namespace = exported as Record<string, unknown>;
        }
      }
    } catch {
      // A top-level await (ERR_REQUIRE_ASYNC_MODULE), a missing file, a throwing module: import()
      // reports it, or (top-level await) loads the module as usual.
    }
  }
  loaded.set(module, namespace);
  return namespace;
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
 * ({@link requireEsModule}); undefined to leave loading, and reporting what fails, to the SDK's
 * `loadModuleInvokable` (`import()`). A bad export is described as `loadModuleInvokable` would.
 * @internal
 */
export function loadModuleInvokableSync(ref: ModuleReference): Invokable | undefined {
  const exportName = ref.export ?? 'default';
  const namespace = requireEsModule(ref.module);
  // require() adds `__esModule` to the namespace; the SDK's import() has the true list of exports.
  if (!namespace || exportName === '__esModule' || namespace[exportName] === undefined) return undefined;
  return toInvokable(namespace[exportName], `export '${exportName}' of module '${ref.module}'`);
}
