import { describe, expect, it } from 'vitest';
import { fixture, useProcessHarness } from './helpers.js';

/**
 * A fresh child loads an ES module task with a synchronous `require()` (faster than `import()` in a
 * process that has not built its ES module loader yet; see `requireEsModule` in `@taskwarden/sdk/internal`). These
 * prove that a task cannot tell: each module is evaluated once, failures are reported as the SDK's
 * `import()` reports them, and module customization hooks still apply.
 */
const moduleLoading = (name: string) => fixture(`module-loading/${name}`);

describe('ProcessExecutor: loading a task module', () => {
  // One process for every task of a test, so a probe task can count evaluations in it.
  const harness = useProcessHarness({
    executor: { reuse: true, maxProcesses: 1, killGraceMs: 200 },
    expectNoProcesses: true,
  });
  const { setup, submit } = harness;

  async function evaluations(name: string): Promise<{ pid: number; evaluations: number }> {
    const outcome = await submit(moduleLoading('probe.mjs'), name).done;
    expect(outcome.state).toBe('FINISHED');
    return outcome.result as { pid: number; evaluations: number };
  }

  it('evaluates an ES module once and finds its exports by name', async () => {
    setup();
    expect(await submit(moduleLoading('esm.mjs'), 'in').done).toMatchObject({
      state: 'FINISHED',
      result: 'in',
    });
    expect(await submit(moduleLoading('esm.mjs'), undefined, 'named').done).toMatchObject({
      state: 'FINISHED',
      result: 'named',
    });
    expect((await evaluations('esm.mjs')).evaluations).toBe(1);
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

  it('loads a .js ES module of a "type": "module" package once', async () => {
    setup();
    expect(await submit(moduleLoading('typed/esm.js')).done).toMatchObject({
      state: 'FINISHED',
      result: 'an ES module in a .js file',
    });
    expect((await evaluations('typed/esm.js')).evaluations).toBe(1);
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
