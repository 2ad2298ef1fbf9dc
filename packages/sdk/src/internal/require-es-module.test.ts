import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isCertainlyEsm } from './require-es-module.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temporary tree: each key a relative path, each value the file's text. */
function tree(files: Record<string, string>): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'taskwarden-esm-')));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('isCertainlyEsm', () => {
  it('is true for .mjs and false for .cjs and other extensions', () => {
    const root = tree({ 'package.json': '{ "type": "module" }' });
    expect(isCertainlyEsm(join(root, 'a.mjs'))).toBe(true);
    expect(isCertainlyEsm(join(root, 'a.cjs'))).toBe(false);
    expect(isCertainlyEsm(join(root, 'a.json'))).toBe(false);
    expect(isCertainlyEsm(join(root, 'a.ts'))).toBe(false);
  });

  it('follows the nearest package.json for .js, as Node does', () => {
    const root = tree({
      'package.json': '{ "type": "module" }',
      'inner/package.json': '{ "name": "no-type" }',
      'typed/deeper/package.json': '{ "type": "module" }',
    });
    expect(isCertainlyEsm(join(root, 'a.js'))).toBe(true);
    expect(isCertainlyEsm(join(root, 'sub/dir/a.js'))).toBe(true);
    expect(isCertainlyEsm(join(root, 'inner/a.js'))).toBe(false);
    expect(isCertainlyEsm(join(root, 'typed/deeper/a.js'))).toBe(true);
  });

  it('says false when it cannot be sure: a malformed package.json, a node_modules boundary', () => {
    const root = tree({
      'package.json': '{ "type": "module" }',
      'broken/package.json': '{ "type": ',
      'node_modules/pkg/index.js': '',
    });
    expect(isCertainlyEsm(join(root, 'broken/a.js'))).toBe(false);
    expect(isCertainlyEsm(join(root, 'node_modules/pkg/index.js'))).toBe(false);
  });
});

/** How often each module of these tests ran its top level, by the name it counts itself under (one per test). */
const evaluations = (name: string): number =>
  (globalThis as { __twUnitEvaluations?: Record<string, number> }).__twUnitEvaluations?.[name] ?? 0;

/** A module's text that counts its evaluations under `name` (see {@link evaluations}). */
const counted = (name: string, rest = ''): string =>
  `globalThis.__twUnitEvaluations ??= {}; globalThis.__twUnitEvaluations['${name}'] = (globalThis.__twUnitEvaluations['${name}'] ?? 0) + 1;\n${rest}`;

/**
 * A fresh copy of `require-es-module.ts`, as a fresh process or thread has, that saw the given Node
 * options at start-up (none by default: a vitest worker's own hold `--require`, which turns the
 * synchronous load off).
 */
async function freshCopy(
  options: { execArgv?: string[]; nodeOptions?: string } = {},
): Promise<typeof import('./require-es-module.js')> {
  const execArgv = process.execArgv;
  process.execArgv = options.execArgv ?? [];
  vi.stubEnv('NODE_OPTIONS', options.nodeOptions ?? '');
  vi.resetModules();
  try {
    return await import('./require-es-module.js');
  } finally {
    process.execArgv = execArgv;
    vi.unstubAllEnvs();
  }
}

describe('requireEsModule', () => {
  it('loads the first module synchronously, and gives later calls for it the same namespace', async () => {
    const root = tree({ 'first.mjs': counted('first', "export default 'first';") });
    const { requireEsModule } = await freshCopy();
    const namespace = requireEsModule(join(root, 'first.mjs'));
    expect(namespace?.default).toBe('first');
    expect(requireEsModule(join(root, 'first.mjs'))).toBe(namespace);
    expect(evaluations('first')).toBe(1);
  });

  it('leaves every module after the first to import(), as a task may have registered hooks by then', async () => {
    const root = tree({ 'a.mjs': 'export default 1;', 'b.mjs': counted('after-first', 'export default 2;') });
    const { requireEsModule } = await freshCopy();
    expect(requireEsModule(join(root, 'a.mjs'))).toBeDefined();
    expect(requireEsModule(join(root, 'b.mjs'))).toBeUndefined();
    expect(evaluations('after-first')).toBe(0);
  });

  it.each([
    ['a missing file', (root: string) => join(root, 'missing.mjs')],
    ['a directory', (root: string) => join(root, 'dir.mjs')],
    ['a relative path', () => './task.mjs'],
    ['a file: URL with a query', (root: string) => `${pathToFileURL(join(root, 'task.mjs')).href}?v=1`],
    ['a file: URL with a hash', (root: string) => `${pathToFileURL(join(root, 'task.mjs')).href}#h`],
    ['a CommonJS module', (root: string) => join(root, 'task.cjs')],
    ['a module with a top-level await', (root: string) => join(root, 'tla.mjs')],
  ])('leaves %s to import(), untouched', async (what, moduleOf) => {
    const root = tree({
      'task.mjs': counted(what, 'export default 1;'),
      'task.cjs': counted(what, 'module.exports = 1;'),
      'tla.mjs': `await 0;\n${counted(what, 'export default 1;')}`,
      'dir.mjs/index.js': counted(what, 'module.exports = 1;'),
    });
    const { requireEsModule } = await freshCopy();
    expect(requireEsModule(moduleOf(root))).toBeUndefined();
    expect(evaluations(what)).toBe(0);
  });

  it('throws a link error as importModule reports it, and the same error for every later call', async () => {
    const root = tree({
      'dep.mjs': counted('link-dep', 'export const yes = 1;'),
      'task.mjs': "import { nope } from './dep.mjs';\nexport default nope;",
    });
    const { requireEsModule } = await freshCopy();
    const module = join(root, 'task.mjs');
    let error: unknown;
    try {
      requireEsModule(module);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toMatchObject({
      name: 'InvalidInvokableError',
      message: `cannot load module '${module}': The requested module './dep.mjs' does not provide an export named 'nope'`,
    });
    expect(() => requireEsModule(module)).toThrow(error as Error);
    expect(evaluations('link-dep')).toBe(0);
  });

  it('throws what a module’s top level threw, evaluating it once', async () => {
    const root = tree({ 'task.mjs': counted('throws', "throw new Error('top level threw');") });
    const { requireEsModule } = await freshCopy();
    const module = pathToFileURL(join(root, 'task.mjs')).href;
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(() => requireEsModule(module)).toThrow(`cannot load module '${module}': top level threw`);
    }
    expect(evaluations('throws')).toBe(1);
  });

  it('decides by the real path: a symlink to CommonJS in an ES module scope is left to import()', async () => {
    const root = tree({
      'cjs/package.json': '{ "type": "commonjs" }',
      'cjs/real.js': counted('symlinked-cjs', 'module.exports = 1;'),
      'esm/package.json': '{ "type": "module" }',
    });
    symlinkSync(join(root, 'cjs/real.js'), join(root, 'esm/link.js'));
    const { requireEsModule } = await freshCopy();
    expect(requireEsModule(join(root, 'esm/link.js'))).toBeUndefined();
    expect(evaluations('symlinked-cjs')).toBe(0);
  });

  it('loads a symlinked ES module by its real path, as import() does', async () => {
    const root = tree({ 'real.mjs': 'export default import.meta.url;' });
    symlinkSync(join(root, 'real.mjs'), join(root, 'link.mjs'));
    const { requireEsModule } = await freshCopy();
    expect(requireEsModule(join(root, 'link.mjs'))?.default).toBe(pathToFileURL(join(root, 'real.mjs')).href);
  });

  it.each([
    ['--preserve-symlinks in execArgv', { execArgv: ['--preserve-symlinks'] }],
    ['--preserve-symlinks-main in NODE_OPTIONS', { nodeOptions: '--preserve-symlinks-main' }],
    ['--import in execArgv', { execArgv: ['--import', 'tsx'] }],
    ['-r in NODE_OPTIONS', { nodeOptions: '-r ./hooks.cjs' }],
  ])('leaves every module to import() under %s', async (what, options) => {
    const root = tree({ 'task.mjs': counted(what, 'export default 1;') });
    const { requireEsModule } = await freshCopy(options);
    expect(requireEsModule(join(root, 'task.mjs'))).toBeUndefined();
    expect(evaluations(what)).toBe(0);
  });
});
