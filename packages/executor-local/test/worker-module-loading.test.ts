import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { symlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TempDir } from '@taskwarden/sdk/testing';
import { tempDir } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { fixture } from './worker-harness.js';

/**
 * A fresh thread loads an ES module task with a synchronous `require()` (faster than `import()` in a
 * thread that has not built its ES module loader yet; see `requireEsModule` in
 * `@taskwarden/sdk/internal`). These prove that a task cannot tell: each module is evaluated once,
 * failures are reported as the SDK's `import()` reports them, and module customization hooks still
 * apply. The modules are the process executor's fixtures for the same guarantees.
 *
 * Each test runs its tasks in a child process (`fixtures/module-loading-child.mjs`): threads inherit
 * their process's Node options, and a vitest worker's hold `--require`, which (as a possible source
 * of hooks) turns the synchronous load off. The probe task says which way a module was loaded, so a
 * test cannot pass by never taking the synchronous path.
 */
interface Step {
  readonly module: string;
  readonly export?: string;
  readonly input?: unknown;
}

interface Outcome {
  readonly state: string;
  readonly result?: unknown;
  readonly error?: { readonly name: string; readonly message: string };
}

async function runInChild(
  steps: readonly Step[],
  options: { execArgv?: string[]; nodeOptions?: string } = {},
): Promise<Outcome[]> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  if (options.nodeOptions !== undefined) env.NODE_OPTIONS = options.nodeOptions;
  const child = spawn(
    process.execPath,
    [...(options.execArgv ?? []), fixture('module-loading-child.mjs'), JSON.stringify(steps)],
    { stdio: ['ignore', 'pipe', 'inherit'], env },
  );
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code, signal] = await once(child, 'close');
  clearTimeout(timer);
  expect({ code, signal }).toEqual({ code: 0, signal: null }); // the child, and with it its threads, ended
  return JSON.parse(stdout) as Outcome[];
}

const probe = (name: string): Step => ({ module: 'probe', input: name });

describe('WorkerExecutor: loading a task module', () => {
  /** `link` in a temporary directory whose package.json says `"type": "module"`, linked to `target`. */
  function symlinkInEsmScope(dir: TempDir, link: string, target: string): string {
    writeFileSync(dir.file('package.json'), '{ "type": "module" }');
    symlinkSync(target, dir.file(link));
    return dir.file(link);
  }

  it('evaluates an ES module once, synchronously, and finds its exports by name', async () => {
    const [byDefault, named, probed] = await runInChild([
      { module: 'esm.mjs', input: 'in' },
      { module: 'esm.mjs', export: 'named' },
      probe('esm.mjs'),
    ]);
    expect(byDefault).toMatchObject({ state: 'FINISHED', result: 'in' });
    expect(named).toMatchObject({ state: 'FINISHED', result: 'named' });
    expect(probed?.result).toEqual({ evaluations: 1, byRequire: true });
  });

  it('reports a missing export with the module’s own exports, and an export that is not invokable', async () => {
    const [missing, wrong] = await runInChild([
      { module: 'esm.mjs', export: 'nope' },
      { module: 'esm.mjs', export: 'notInvokable' },
    ]);
    expect(missing).toMatchObject({ state: 'FAILED', error: { name: 'InvalidInvokableError' } });
    expect(missing?.error?.message).toContain("has no export 'nope' (exports: default, named, notInvokable)");
    expect(wrong).toMatchObject({ state: 'FAILED', error: { name: 'InvalidInvokableError' } });
    expect(wrong?.error?.message).toContain("export 'notInvokable' of module");
    expect(wrong?.error?.message).toContain('is not an invokable');
  });

  it('loads a module with a top-level await, evaluated once', async () => {
    const [loaded, probed] = await runInChild([{ module: 'tla.mjs' }, probe('tla.mjs')]);
    expect(loaded).toMatchObject({ state: 'FINISHED', result: 'loaded after a top-level await' });
    expect(probed?.result).toMatchObject({ evaluations: 1 });
  });

  it('fails a task whose ES module throws at its top level, and never evaluates that module again', async () => {
    const outcomes = await runInChild([
      { module: 'throws.mjs' },
      { module: 'throws.mjs' },
      probe('throws.mjs'),
    ]);
    for (const outcome of outcomes.slice(0, 2)) {
      expect(outcome).toMatchObject({ state: 'FAILED', error: { name: 'InvalidInvokableError' } });
      expect(outcome.error?.message).toContain('the module top level threw');
    }
    expect(outcomes[2]?.result).toMatchObject({ evaluations: 1 });
  });

  it('loads a .js ES module of a "type": "module" package once, synchronously', async () => {
    const [loaded, probed] = await runInChild([{ module: 'typed/esm.js' }, probe('typed/esm.js')]);
    expect(loaded).toMatchObject({ state: 'FINISHED', result: 'an ES module in a .js file' });
    expect(probed?.result).toEqual({ evaluations: 1, byRequire: true });
  });

  it('loads CommonJS as import() does: once, also when its top level throws', async () => {
    const [ok, failed, probedOk, probedFailed] = await runInChild([
      { module: 'cjs/ok.js' },
      { module: 'cjs/throws.js' },
      probe('cjs/ok.js'),
      probe('cjs/throws.js'),
    ]);
    expect(ok).toMatchObject({ state: 'FINISHED', result: 'a CommonJS module' });
    expect(failed).toMatchObject({ state: 'FAILED' });
    expect(failed?.error?.message).toContain('the CommonJS top level threw');
    expect(probedOk?.result).toMatchObject({ evaluations: 1 });
    expect(probedFailed?.result).toMatchObject({ evaluations: 1 });
  });

  it('reports a module that fails to link as import() does, on every attempt', async () => {
    const outcomes = await runInChild([{ module: 'link-error.mjs' }, { module: 'link-error.mjs' }]);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ state: 'FAILED', error: { name: 'InvalidInvokableError' } });
      expect(outcome.error?.message).toBe(
        `cannot load module '${fixturePath('link-error.mjs')}': The requested module './esm.mjs' does not provide an export named 'nope'`,
      );
    }
  });

  it('loads a symlink to CommonJS in an ES module scope as CommonJS, evaluated once though it throws', async () => {
    using dir = tempDir('symlink');
    const link = symlinkInEsmScope(dir, 'link.js', fixturePath('cjs/throws.js'));
    const [failed, probed] = await runInChild([{ module: link }, probe('cjs/throws.js')]);
    expect(failed).toMatchObject({ state: 'FAILED' });
    expect(failed?.error?.message).toContain('the CommonJS top level threw');
    expect(probed?.result).toMatchObject({ evaluations: 1 });
  });

  it.each([
    ['its target’s URL', [], false],
    ['its own URL under --preserve-symlinks', ['--preserve-symlinks'], true],
  ])('loads a symlinked ES module under %s', async (_, execArgv, preserved) => {
    using dir = tempDir('symlink');
    const link = symlinkInEsmScope(dir, 'link.mjs', fixturePath('where.mjs'));
    const [loaded] = await runInChild([{ module: link }], { execArgv });
    expect(loaded).toMatchObject({
      state: 'FINISHED',
      result: pathToFileURL(preserved ? link : fixturePath('where.mjs')).href,
    });
  });

  it('gives a file: URL with a query or a hash its own instance of the module, as import() does', async () => {
    const url = pathToFileURL(fixturePath('esm.mjs')).href;
    const modules = [`${url}?v=1`, `${url}#h`, fixturePath('esm.mjs')];
    const outcomes = await runInChild([
      ...modules.map((module) => ({ module, input: module })),
      probe('esm.mjs'),
    ]);
    modules.forEach((module, index) => {
      expect(outcomes[index]).toMatchObject({ state: 'FINISHED', result: module });
    });
    expect(outcomes[3]?.result).toMatchObject({ evaluations: 3 });
  });

  it('loads later modules through the hooks a task registered at run time', async () => {
    const [registered, hooked] = await runInChild([
      { module: 'registers-hooks.mjs' },
      { module: 'hooked.mjs' },
    ]);
    expect(registered).toMatchObject({ state: 'FINISHED', result: 'registered' });
    expect(hooked).toMatchObject({ state: 'FINISHED', result: 'hooked' });
  });

  // Hooks that the process's options register apply to its worker threads too.
  it.each([
    ['execArgv', { execArgv: ['--import', fileURLToPath(hooksUrl())] }],
    ['NODE_OPTIONS', { nodeOptions: `--import=${fileURLToPath(hooksUrl())}` }],
  ])('loads the module through the hooks an --import option in %s registers', async (_, options) => {
    const [hooked] = await runInChild([{ module: 'hooked.mjs' }], options);
    expect(hooked).toMatchObject({ state: 'FINISHED', result: 'hooked' });
  });
});

function hooksUrl(): URL {
  return new URL('../../executor-process/test/fixtures/module-loading/register-hooks.mjs', import.meta.url);
}

/** The absolute path of one of the process executor's `module-loading/` fixtures. */
function fixturePath(name: string): string {
  return fileURLToPath(
    new URL(`../../executor-process/test/fixtures/module-loading/${name}`, import.meta.url),
  );
}
