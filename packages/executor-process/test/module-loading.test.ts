import { symlinkSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { TempDir } from '@taskwarden/sdk/testing';
import { tempDir } from '@taskwarden/sdk/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, useProcessHarness } from './helpers.js';

/**
 * A fresh child loads an ES module task with a synchronous `require()` (faster than `import()` in a
 * process that has not built its ES module loader yet; see `requireEsModule` in `@taskwarden/sdk/internal`). These
 * prove that a task cannot tell: each module is evaluated once, failures are reported as the SDK's
 * `import()` reports them, and module customization hooks still apply. The children start with
 * the executor's `execArgv` (none here), not the vitest worker's (whose `--require` would turn the
 * synchronous load off), and the probe task says which way a module was loaded, so a test cannot
 * pass by never taking the synchronous path.
 */
const moduleLoading = (name: string) => fixture(`module-loading/${name}`);

describe('ProcessExecutor: loading a task module', () => {
  // One process for every task of a test, so a probe task can count evaluations in it.
  const harness = useProcessHarness({
    executor: { reuse: true, maxProcesses: 1, killGraceMs: 200 },
    expectNoProcesses: true,
  });
  const { setup, submit } = harness;

  async function evaluations(
    name: string,
  ): Promise<{ pid: number; evaluations: number; byRequire: boolean }> {
    const outcome = await submit(moduleLoading('probe.mjs'), name).done;
    expect(outcome.state).toBe('FINISHED');
    return outcome.result as { pid: number; evaluations: number; byRequire: boolean };
  }

  const dirs: TempDir[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) dir[Symbol.dispose]();
  });

  /** `link` in a fresh temporary directory whose package.json says `"type": "module"`, linked to `target`. */
  function symlinkInEsmScope(link: string, target: string): string {
    const dir = tempDir('symlink');
    dirs.push(dir);
    writeFileSync(dir.file('package.json'), '{ "type": "module" }');
    symlinkSync(target, dir.file(link));
    return dir.file(link);
  }

  it('evaluates an ES module once, synchronously, and finds its exports by name', async () => {
    setup();
    expect(await submit(moduleLoading('esm.mjs'), 'in').done).toMatchObject({
      state: 'FINISHED',
      result: 'in',
    });
    expect(await submit(moduleLoading('esm.mjs'), undefined, 'named').done).toMatchObject({
      state: 'FINISHED',
      result: 'named',
    });
    expect(await evaluations('esm.mjs')).toMatchObject({ evaluations: 1, byRequire: true });
  });

  it('reports a missing export with the module’s own exports, and an export that is not invokable', async () => {
    setup();
    const missing = await submit(moduleLoading('esm.mjs'), undefined, 'nope').done;
    expect(missing.state).toBe('FAILED');
    expect(missing.error).toMatchObject({ name: 'InvalidInvokableError' });
    expect(missing.error?.message).toContain("has no export 'nope' (exports: default, named, notInvokable)");
    const wrong = await submit(moduleLoading('esm.mjs'), undefined, 'notInvokable').done;
    expect(wrong.state).toBe('FAILED');
    expect(wrong.error).toMatchObject({ name: 'InvalidInvokableError' });
    expect(wrong.error?.message).toContain("export 'notInvokable' of module");
    expect(wrong.error?.message).toContain('is not an invokable');
  });

  it('loads a module with a top-level await, evaluated once', async () => {
    setup();
    expect(await submit(moduleLoading('tla.mjs')).done).toMatchObject({
      state: 'FINISHED',
      result: 'loaded after a top-level await',
    });
    expect((await evaluations('tla.mjs')).evaluations).toBe(1);
  });

  it('fails a task whose ES module throws at its top level, and never evaluates that module again', async () => {
    setup();
    for (let attempt = 0; attempt < 2; attempt++) {
      const outcome = await submit(moduleLoading('throws.mjs')).done;
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error).toMatchObject({ name: 'InvalidInvokableError' });
      expect(outcome.error?.message).toContain('the module top level threw');
    }
    expect((await evaluations('throws.mjs')).evaluations).toBe(1);
  });

  it('loads a .js ES module of a "type": "module" package once, synchronously', async () => {
    setup();
    expect(await submit(moduleLoading('typed/esm.js')).done).toMatchObject({
      state: 'FINISHED',
      result: 'an ES module in a .js file',
    });
    expect(await evaluations('typed/esm.js')).toMatchObject({ evaluations: 1, byRequire: true });
  });

  it('reports a module that fails to link as import() does, on every attempt', async () => {
    setup();
    for (let attempt = 0; attempt < 2; attempt++) {
      const outcome = await submit(moduleLoading('link-error.mjs')).done;
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error).toMatchObject({ name: 'InvalidInvokableError' });
      expect(outcome.error?.message).toBe(
        `cannot load module '${moduleLoading('link-error.mjs')}': The requested module './esm.mjs' does not provide an export named 'nope'`,
      );
    }
  });

  it('loads a symlink to CommonJS in an ES module scope as CommonJS, evaluated once though it throws', async () => {
    setup();
    const link = symlinkInEsmScope('link.js', moduleLoading('cjs/throws.js'));
    const failed = await submit(link).done;
    expect(failed.state).toBe('FAILED');
    expect(failed.error?.message).toContain('the CommonJS top level threw');
    expect((await evaluations('cjs/throws.js')).evaluations).toBe(1);
  });

  it.each([
    ['its target’s URL', [], false],
    ['its own URL under --preserve-symlinks', ['--preserve-symlinks'], true],
  ])('loads a symlinked ES module under %s', async (_, execArgv, preserved) => {
    setup({ execArgv });
    const link = symlinkInEsmScope('link.mjs', moduleLoading('where.mjs'));
    expect(await submit(link).done).toMatchObject({
      state: 'FINISHED',
      result: pathToFileURL(preserved ? link : moduleLoading('where.mjs')).href,
    });
  });

  it('gives a file: URL with a query or a hash its own instance of the module, as import() does', async () => {
    setup();
    const url = pathToFileURL(moduleLoading('esm.mjs')).href;
    for (const module of [`${url}?v=1`, `${url}#h`, moduleLoading('esm.mjs')]) {
      expect(await submit(module, module).done).toMatchObject({ state: 'FINISHED', result: module });
    }
    expect((await evaluations('esm.mjs')).evaluations).toBe(3);
  });

  it('loads later modules through the hooks a task registered at run time', async () => {
    setup();
    expect(await submit(moduleLoading('registers-hooks.mjs')).done).toMatchObject({
      state: 'FINISHED',
      result: 'registered',
    });
    expect(await submit(moduleLoading('hooked.mjs')).done).toMatchObject({
      state: 'FINISHED',
      result: 'hooked',
    });
  });

  it('loads CommonJS as import() does: once, also when its top level throws', async () => {
    setup();
    expect(await submit(moduleLoading('cjs/ok.js')).done).toMatchObject({
      state: 'FINISHED',
      result: 'a CommonJS module',
    });
    const failed = await submit(moduleLoading('cjs/throws.js')).done;
    expect(failed.state).toBe('FAILED');
    expect(failed.error?.message).toContain('the CommonJS top level threw');
    expect((await evaluations('cjs/ok.js')).evaluations).toBe(1);
    expect((await evaluations('cjs/throws.js')).evaluations).toBe(1);
  });

  it('loads the module through the hooks an --import option registers', async () => {
    setup({ execArgv: ['--import', moduleLoading('register-hooks.mjs')] });
    expect(await submit(moduleLoading('hooked.mjs')).done).toMatchObject({
      state: 'FINISHED',
      result: 'hooked',
    });
  });
});
