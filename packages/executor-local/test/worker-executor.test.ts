import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorkerExecutor } from '@taskwarden/executor-local';
import { ErrorCode, SerializationError, TaskwardenError } from '@taskwarden/sdk';
import { launchDirectly } from '@taskwarden/sdk/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogger, closeHarnesses, delay, fixture, ref, startHarness, until } from './worker-harness.js';

afterEach(closeHarnesses);

describe('WorkerExecutor options', () => {
  it('declares a hard stop, diagnostics and thread isolation', () => {
    const executor = new WorkerExecutor();
    expect(executor.name).toBe('worker');
    expect(executor.capabilities).toEqual({ hardStop: true, diagnostics: true, isolation: 'thread' });
    expect(executor.threadCount).toBe(0); // threads start with the first task, not before
  });

  it('rejects bad options up front, naming the option', () => {
    expect(() => new WorkerExecutor({ maxThreads: 0 })).toThrow(
      new RangeError('maxThreads must be an integer >= 1, got 0'),
    );
    expect(() => new WorkerExecutor({ maxThreads: 1.5 })).toThrow(RangeError);
    expect(() => new WorkerExecutor({ maxThreads: '2' as never })).toThrow(TypeError);
    expect(() => new WorkerExecutor({ idleTimeoutMs: -1 })).toThrow(/idleTimeoutMs must be/);
    expect(() => new WorkerExecutor({ idleTimeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => new WorkerExecutor({ resourceLimits: { maxOldGenerationSizeMb: 0 } })).toThrow(
      /resourceLimits.maxOldGenerationSizeMb must be a number > 0/,
    );
    expect(() => new WorkerExecutor({ resourceLimits: { heapMb: 1 } as never })).toThrow(
      /unknown resourceLimits.heapMb/,
    );
    expect(() => new WorkerExecutor({ maxThread: 2 } as never)).toThrow(
      /unknown WorkerExecutor option maxThread/,
    );
    expect(() => new WorkerExecutor(null as never)).toThrow(TypeError);
    expect(() => new WorkerExecutor({ idleTimeoutMs: Number.POSITIVE_INFINITY })).not.toThrow();
  });
});

describe('WorkerExecutor module invokables', () => {
  it('runs function, object and class exports; the default export when none is named', async () => {
    const h = startHarness();
    const [byDefault, fn, object, klass] = await Promise.all([
      h.submit(ref('invokables.mjs'), { echo: [1, 'two'] }).done,
      h.submit(ref('invokables.mjs', 'double'), 21).done,
      h.submit(ref('invokables.mjs', 'objectInvokable'), 'x', { name: 'named', attempt: 3 }).done,
      h.submit(ref('invokables.mjs', 'ClassInvokable'), 'y').done,
    ]);
    expect(byDefault).toMatchObject({ state: 'FINISHED', result: { echo: [1, 'two'] } });
    expect(fn).toMatchObject({ state: 'FINISHED', result: 42 });
    expect(object.result).toEqual({ input: 'x', name: 'named', attempt: 3 });
    expect(klass.result).toMatch(/^instance \d+ got y$/);
  });

  it('goes DEPLOYING → INITIALIZING → RUNNING → FINISHED, running restore before invoke', async () => {
    const h = startHarness();
    const task = h.submit(ref('invokables.mjs', 'withRestore'));
    await until(() => task.state === 'INITIALIZING', 'INITIALIZING (restore waits 50 ms)');
    expect(await task.done).toMatchObject({ state: 'FINISHED', result: { restored: true } });
    expect(h.path(task.name)).toEqual(['CREATED', 'DEPLOYING', 'INITIALIZING', 'RUNNING', 'FINISHED']);
  });

  it('imports a module once per thread and reuses the thread', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    const results = [];
    for (let i = 0; i < 3; i++)
      results.push((await h.submit(ref('invokables.mjs', 'moduleState')).done).result);
    expect(results).toEqual([
      { loads: 1, calls: 1 },
      { loads: 1, calls: 2 },
      { loads: 1, calls: 3 },
    ]);
    expect(h.executor.threadCount).toBe(1);
  });

  it('accepts a file URL and a package specifier', async () => {
    const h = startHarness();
    const byUrl = await h.submit(
      { module: pathToFileURL(fixture('invokables.mjs')).href, export: 'double' },
      4,
    ).done;
    expect(byUrl).toMatchObject({ state: 'FINISHED', result: 8 });
    // A real package, resolved inside the worker: isTerminal(context) is false.
    const byPackage = await h.submit({ module: '@taskwarden/sdk', export: 'isTerminal' }).done;
    expect(byPackage).toMatchObject({ state: 'FINISHED', result: false });
  });

  it('fails a missing module or export with an error naming it; the thread serves the next task', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    const noModule = await h.submit({ module: fixture('no-such-module.mjs') }).done;
    expect(noModule.state).toBe('FAILED');
    expect(noModule.error).toMatchObject({ code: ErrorCode.INVALID_INVOKABLE });
    expect(noModule.error?.message).toContain('no-such-module.mjs');
    const noExport = await h.submit(ref('invokables.mjs', 'missing')).done;
    expect(noExport.error).toMatchObject({ code: ErrorCode.INVALID_INVOKABLE });
    expect(noExport.error?.message).toContain("no export 'missing'");
    const notInvokable = await h.submit(ref('invokables.mjs', 'notInvokable')).done;
    expect(notInvokable.error?.message).toContain("export 'notInvokable'");
    const relative = await h.submit({ module: './relative.mjs' }).done;
    expect(relative.error?.message).toContain('relative');
    expect(await h.submit(ref('invokables.mjs'), 'still serving').done).toMatchObject({
      state: 'FINISHED',
      result: 'still serving',
    });
    expect(h.executor.threadCount).toBe(1);
  });

  it('refuses functions and objects: they cannot cross to a thread', () => {
    const executor = new WorkerExecutor({ maxThreads: 1 });
    expect(() => launchDirectly(executor, { invokable: () => 1 })).toThrow(/module references only/);
    expect(executor.threadCount).toBe(0);
  });
});

describe('WorkerExecutor values crossing the thread boundary', () => {
  it('copies inputs and results by structured clone', async () => {
    const h = startHarness();
    const input = {
      when: new Date(0),
      big: 10n,
      map: new Map([[1, { deep: true }]]),
      bytes: new Uint8Array([1, 2]),
    };
    const outcome = await h.submit(ref('invokables.mjs'), input).done;
    expect(outcome.state).toBe('FINISHED');
    expect(outcome.result).toEqual(input);
    expect(outcome.result).not.toBe(input);
  });

  it('fails a task whose input cannot be cloned with SerializationError, in DEPLOYING; nothing hangs', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    const task = h.submit(ref('invokables.mjs'), { callback: () => 1 });
    const outcome = await task.done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(SerializationError);
    expect(outcome.error).toMatchObject({ code: ErrorCode.SERIALIZATION_FAILED, what: 'input' });
    expect(h.path(task.name)).toEqual(['CREATED', 'DEPLOYING', 'FAILED']);
    // The same while waiting for a thread: the input is copied when the task gets one.
    const blocker = h.submit(ref('invokables.mjs', 'sleep'), 100);
    const queued = h.submit(ref('invokables.mjs'), { callback: () => 1 });
    const after = h.submit(ref('invokables.mjs'), 'after');
    expect((await queued.done).error).toMatchObject({ code: ErrorCode.SERIALIZATION_FAILED, what: 'input' });
    expect((await blocker.done).state).toBe('FINISHED');
    expect(await after.done).toMatchObject({ state: 'FINISHED', result: 'after' });
  });

  it("fails a task whose result cannot be cloned with SerializationError('result')", async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    const task = h.submit(ref('failures.mjs', 'returnsFunction'));
    const next = h.submit(ref('invokables.mjs'), 1); // waits (and is offered) meanwhile
    const outcome = await task.done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(SerializationError);
    expect(outcome.error).toMatchObject({ code: ErrorCode.SERIALIZATION_FAILED, what: 'result' });
    expect(outcome.error?.message).toContain('result cannot be copied');
    expect(await next.done).toMatchObject({ state: 'FINISHED', result: 1 });
  });

  it('rebuilds thrown errors with name, message, stack, code and own fields', async () => {
    const h = startHarness();
    const custom = await h.submit(ref('failures.mjs', 'throwsCustom'), 'tenant-7').done;
    expect(custom.state).toBe('FAILED');
    const error = custom.error as Error & { code?: string; details?: unknown; retryable?: boolean };
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('QuotaError');
    expect(error.message).toBe('quota exceeded for tenant-7');
    expect(error.code).toBe('E_QUOTA');
    expect(error.details).toEqual({ limit: 10, used: 11 });
    expect(error.retryable).toBe(false);
    expect(error.stack).toContain('throwsCustom');
    expect(error.stack).toContain('failures.mjs');

    const late = await h.submit(ref('failures.mjs', 'rejectsAfterAwait')).done;
    expect(late.error).toMatchObject({ name: 'TypeError', message: 'late type error' });

    const thrownString = await h.submit(ref('failures.mjs', 'throwsString')).done;
    expect(thrownString.error).toMatchObject({ code: ErrorCode.NON_ERROR_THROWN, value: 'a plain string' });
    expect(TaskwardenError.is(thrownString.error)).toBe(true);
  });
});

describe('WorkerExecutor logging', () => {
  it("writes the task's log records through the task's host logger, with its bindings", async () => {
    const { logger, lines } = captureLogger('info');
    const h = startHarness({ logger });
    const task = h.submit(ref('invokables.mjs', 'logSomething'), 'world', { executionId: 'exec-log' });
    expect((await task.done).result).toBe('logged');
    const fromTask = lines.filter(
      (line) => line.executionId === 'exec-log' && line.msg !== 'task state changed',
    );
    expect(fromTask).toEqual([
      expect.objectContaining({ level: 30, msg: 'hello world', step: 1, jobId: 'job', task: task.name }),
      expect.objectContaining({ level: 40, msg: 'from a child', component: 'inner' }),
      expect.objectContaining({
        level: 50,
        msg: 'logged failure',
        err: expect.objectContaining({ message: 'logged failure', code: 'E_LOGGED' }),
      }),
    ]);
  });
});

describe('WorkerExecutor idle threads', () => {
  it('keeps running work a task left behind (timers) while the thread waits for the next task', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    // A first task, so the thread has loaded the module and has nothing else pending.
    await h.submit(ref('invokables.mjs'), 'warm').done;
    await delay(50);
    expect((await h.submit(ref('invokables.mjs', 'leaveTimer'), 30).done).state).toBe('FINISHED');
    await delay(150);
    expect(await h.submit(ref('invokables.mjs', 'checkTimer')).done).toMatchObject({
      state: 'FINISHED',
      result: true,
    });
  });

  it('lets promise callbacks a task left behind run before the thread goes idle', async () => {
    const h = startHarness({ executor: { maxThreads: 1 } });
    const file = join(mkdtempSync(join(tmpdir(), 'taskwarden-worker-')), 'chain.txt');
    // A first task, so the thread has loaded the module and has nothing else pending.
    await h.submit(ref('invokables.mjs'), 'warm').done;
    await delay(50);
    expect(await h.submit(ref('invokables.mjs', 'leaveMicrotasks'), file).done).toMatchObject({
      result: 'returned first',
    });
    // No further task is submitted: the chain must not wait for one.
    await until(() => existsSync(file), 'the promise chain to write its file', 2_000);
    rmSync(dirname(file), { recursive: true, force: true });
  });

  it('idle threads do not keep the process alive; a running task does', async () => {
    const child = spawn(process.execPath, [fixture('exit-without-close.mjs')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [code, signal] = await once(child, 'close');
    clearTimeout(timer);
    expect({ code, signal, stdout }).toEqual({ code: 0, signal: null, stdout: 'FINISHED slept\n' });
  });

  it('ends threads idle for idleTimeoutMs and starts a fresh one when work comes', async () => {
    const h = startHarness({ executor: { maxThreads: 2, idleTimeoutMs: 100 } });
    const tasks = [
      h.submit(ref('invokables.mjs', 'sleep'), 60_000),
      h.submit(ref('invokables.mjs', 'sleep'), 60_000),
    ];
    await until(() => tasks.every((task) => task.state === 'RUNNING'), 'both tasks to run');
    expect(h.executor.stats).toMatchObject({ threads: 2, busy: 2 });
    for (const task of tasks) task.cancel();
    await Promise.all(tasks.map((task) => task.done));
    await until(() => h.executor.threadCount === 0, 'idle threads to be ended', 3_000);
    const moduleState = await h.submit(ref('invokables.mjs', 'moduleState')).done;
    expect(moduleState.result).toEqual({ loads: 1, calls: 1 }); // a new thread: the module is loaded anew
  });
});
