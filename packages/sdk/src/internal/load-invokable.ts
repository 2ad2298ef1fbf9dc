import { createRequire } from 'node:module';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidInvokableError, toError } from '../errors.js';
import type { Invokable, InvokableReference, ModuleReference } from '../interfaces/invokable.js';
import { isModuleReference } from './module-reference.js';

const moduleCache = new Map<string, Promise<Record<string, unknown>>>();

/** Marks a function whose instances are the invokables (a class, or a function with `prototype.invoke`). */
const CONSTRUCT = Symbol('construct');
/** What each function passed as an invokable turned out to be: its shared wrapper, or {@link CONSTRUCT}. */
const functionInvokables = new WeakMap<object, Invokable | typeof CONSTRUCT>();

/** Turns an absolute path, a `file:` URL or a package specifier into something `import()` takes. */
function specifierFor(module: string): string {
  if (module.startsWith('file:') || module.startsWith('data:') || module.startsWith('node:')) return module;
  if (isAbsolute(module)) return pathToFileURL(module).href;
  if (module.startsWith('.')) {
    throw new InvalidInvokableError(
      `module '${module}' is relative; use an absolute path, a file: URL or a package specifier`,
    );
  }
  // Package specifiers resolve from the host's working directory, not from this file's location.
  try {
    return pathToFileURL(createRequire(`${process.cwd()}/`).resolve(module)).href;
  } catch {
    return module; // import-only packages: let import() resolve it
  }
}

/** Imports a module once per thread or process. @internal */
export function importModule(module: string): Promise<Record<string, unknown>> {
  let loaded = moduleCache.get(module);
  if (!loaded) {
    loaded = Promise.resolve()
      .then(() => import(specifierFor(module)) as Promise<Record<string, unknown>>)
      .catch((error: unknown) => {
        moduleCache.delete(module);
        if (error instanceof InvalidInvokableError) throw error;
        throw new InvalidInvokableError(`cannot load module '${module}': ${toError(error).message}`, {
          cause: error,
        });
      });
    moduleCache.set(module, loaded);
  }
  return loaded;
}

/**
 * Turns an export into an invokable: an object with `invoke`, a class whose instances have `invoke`
 * (a fresh instance per task), or a function (then it is `invoke`).
 * @internal
 */
export function toInvokable(value: unknown, where: string): Invokable {
  if (typeof value === 'function') {
    // A plain function gets one shared, frozen `{ invoke }` wrapper (it holds no state); classes are
    // recognised once. Function#toString on every task was a twentieth of a no-op inline task.
    const known = functionInvokables.get(value);
    if (known !== undefined && known !== CONSTRUCT) return known;
    if (known === undefined) {
      const prototype = (value as { prototype?: { invoke?: unknown } }).prototype;
      const isClass = Function.prototype.toString.call(value).startsWith('class');
      if (isClass && !(prototype && typeof prototype.invoke === 'function')) {
        // A class cannot be called as a function: refuse it now rather than fail with V8's TypeError later.
        throw new InvalidInvokableError(`${where} is a class without an invoke() method`);
      }
      if (!(prototype && typeof prototype.invoke === 'function')) {
        const wrapper: Invokable = Object.freeze({ invoke: value as Invokable['invoke'] });
        functionInvokables.set(value, wrapper);
        return wrapper;
      }
      functionInvokables.set(value, CONSTRUCT);
    }
    let instance: unknown;
    try {
      instance = new (value as new () => unknown)();
    } catch (error) {
      throw new InvalidInvokableError(`constructing ${where} threw: ${toError(error).message}`, {
        cause: error,
      });
    }
    return toInvokable(instance, where);
  }
  if (typeof value === 'object' && value !== null && typeof (value as Invokable).invoke === 'function') {
    return value as Invokable;
  }
  throw new InvalidInvokableError(
    `${where} is not an invokable (an object with invoke(), a class with invoke(), or a function), got ${value === null ? 'null' : typeof value}`,
  );
}

/** Loads `{ module, export? }` and picks the export. @internal */
export async function loadModuleInvokable(ref: ModuleReference): Promise<Invokable> {
  const exportName = ref.export ?? 'default';
  const namespace = await importModule(ref.module);
  if (!(exportName in namespace) || namespace[exportName] === undefined) {
    const available = Object.keys(namespace).join(', ') || 'none';
    throw new InvalidInvokableError(
      `module '${ref.module}' has no export '${exportName}' (exports: ${available})`,
    );
  }
  return toInvokable(namespace[exportName], `export '${exportName}' of module '${ref.module}'`);
}

/**
 * Resolves any invokable reference; synchronous for objects and functions so inline tasks do not
 * pay for a module load they do not have.
 * @internal
 */
export function resolveInvokable(ref: InvokableReference): Invokable | Promise<Invokable> {
  if (isModuleReference(ref)) return loadModuleInvokable(ref);
  return toInvokable(ref, 'the invokable');
}
