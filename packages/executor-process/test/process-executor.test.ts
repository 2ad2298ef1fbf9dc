import { ProcessExecutor } from '@taskwarden/executor-process';
import { ErrorCode, ExecutorClosedError, SerializationError, type TaskwardenError } from '@taskwarden/sdk';
import { describe, expect, it } from 'vitest';
import {
  captureLogger,
  fixture,
  launch,
  PidLedger,
  startRuntime,
  until,
  untilRecorded,
  useProcessHarness,
  waitGone,
} from './helpers.js';

const echo = fixture('echo.mjs');

describe('ProcessExecutor: running tasks in child processes', () => {
  const harness = useProcessHarness({ expectNoProcesses: true });
  const { setup, submit } = harness;

  it('runs the default export in a child process and returns its value', async () => {
    setup();
    const outcome = await submit(echo, { text: 'héllo', when: new Date(0), big: 10n, list: [1, 2] }).done;
    expect(outcome.state).toBe('FINISHED');
    const result = outcome.result as { echoed: unknown; pid: number };
    expect(result.echoed).toEqual({ text: 'héllo', when: new Date(0), big: 10n, list: [1, 2] });
    expect(result.pid).not.toBe(process.pid);
    expect(harness.ledger.spawnedPids).toContain(result.pid);
    // Without reuse the child is gone by the time the task is done.
    await waitGone([result.pid], 0);
  });

  it('reports INITIALIZING while restore() runs and RUNNING right before invoke()', async () => {
    const { runtime } = setup();
    const transitions: string[] = [];
    runtime.events.on('taskStateChanged', ({ from, to }) => transitions.push(`${from}->${to}`));
    const outcome = await submit(fixture('lifecycle.mjs'), { restoreMs: 20 }).done;
    expect(outcome).toMatchObject({ state: 'FINISHED', result: ['restore', 'invoke'] });
    expect(transitions).toEqual([
      'CREATED->DEPLOYING',
      'DEPLOYING->INITIALIZING',
      'INITIALIZING->RUNNING',
      'RUNNING->FINISHED',
    ]);
    expect((await submit(echo, undefined, 'named').done).result).toBe('named:undefined');
  });

  it('a task cancelled during restore() is never invoked', async () => {
    setup();
    const pidFile = harness.ledger.pidFile();
    const task = submit(fixture('lifecycle.mjs'), { restoreMs: 300, pidFile });
    await untilRecorded(harness.ledger, pidFile, 'restore');
    await until(() => task.state === 'INITIALIZING', 'INITIALIZING');
    task.cancel();
    expect((await task.done).state).toBe('CANCELED');
    expect(harness.ledger.entries(pidFile).map((entry) => entry.role)).toEqual(['restore']);
  });

  it('a task that returns undefined finishes with undefined', async () => {
    setup();
    const outcome = await submit(fixture('module-state.mjs'), undefined, 'nothing').done;
    expect(outcome.state).toBe('FINISHED');
    expect(outcome.result).toBeUndefined();
  });

  it('picks named exports, classes and functions', async () => {
    setup();
    expect((await submit(echo, 'x', 'named').done).result).toBe('named:x');
    // A class export gets a fresh instance per task.
    expect((await submit(echo, undefined, 'Counter').done).result).toBe(1);
  });

  it('keeps name, message, stack, code and own fields of a thrown error', async () => {
    setup();
    const outcome = await submit(echo, undefined, 'failing').done;
    expect(outcome.state).toBe('FAILED');
    const error = outcome.error as Error & { code?: string; detail?: unknown };
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('RangeError');
    expect(error.message).toBe('bad input');
    expect(error.code).toBe('E_BAD_INPUT');
    expect(error.detail).toEqual({ field: 'x' });
    expect(error.stack).toContain('echo.mjs');
  });

  it('fails a task whose module or export is missing with an error naming it', async () => {
    setup();
    const noModule = await submit('/nonexistent/taskwarden-missing-module.mjs').done;
    expect(noModule.state).toBe('FAILED');
    expect(noModule.error?.message).toContain('taskwarden-missing-module.mjs');
    expect((noModule.error as TaskwardenError).code).toBe(ErrorCode.INVALID_INVOKABLE);
    const noExport = await submit(echo, undefined, 'nope').done;
    expect(noExport.state).toBe('FAILED');
    expect(noExport.error?.message).toContain("'nope'");
  });

  it('reports a result or an input that cannot be copied as a SerializationError', async () => {
    setup();
    const badResult = await submit(echo, undefined, 'unclonable').done;
    expect(badResult.state).toBe('FAILED');
    expect(badResult.error).toBeInstanceOf(SerializationError);
    expect((badResult.error as SerializationError).what).toBe('result');
    const badInput = await submit(echo, { fn: () => 1 }).done;
    expect(badInput.state).toBe('FAILED');
    expect(badInput.error).toBeInstanceOf(SerializationError);
    expect((badInput.error as SerializationError).what).toBe('input');
    expect((await submit(echo, 1, 'named').done).result).toBe('named:1');
  });

  it('an input that cannot be copied fails the task in DEPLOYING without spawning a process', async () => {
    const { executor, runtime } = setup();
    const transitions: string[] = [];
    runtime.events.on('taskStateChanged', ({ from, to }) => transitions.push(`${from}->${to}`));
    const outcome = await submit(echo, { fn: () => 1 }).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(SerializationError);
    expect((outcome.error as SerializationError).what).toBe('input');
    expect(transitions).toEqual(['CREATED->DEPLOYING', 'DEPLOYING->FAILED']);
    expect(executor.stats.spawned).toBe(0);
    expect(harness.ledger.spawnedPids).toEqual([]);
  });

  it('logs stdout and stderr lines and ctx.logger records through the task logger', async () => {
    const captured = captureLogger();
    setup({}, { logger: captured.logger });
    const outcome = await submit(echo, { log: true, stdout: 'line one\nline two', stderr: 'oops' }).done;
    expect(outcome.state).toBe('FINISHED');
    const { pid } = outcome.result as { pid: number };
    const byMsg = (msg: string) => captured.records.find((record) => record.msg === msg);
    expect(byMsg('line one')).toMatchObject({ stream: 'stdout', pid, level: 30, task: 'echo.mjs' });
    expect(byMsg('line two')).toMatchObject({ stream: 'stdout', pid });
    expect(byMsg('oops')).toMatchObject({ stream: 'stderr', pid, level: 40 });
    expect(byMsg('hello from the child')).toMatchObject({ answer: 42, level: 30, task: 'echo.mjs' });
  });

  it('cuts overlong output lines to maxLogLineBytes', async () => {
    const captured = captureLogger();
    setup({ maxLogLineBytes: 100 }, { logger: captured.logger });
    await submit(echo, { stdout: `${'x'.repeat(5_000)}\nshort` }).done;
    const lines = captured.records.filter((record) => record.stream === 'stdout').map((r) => String(r.msg));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^x{100} \[… 4900 more characters cut\]$/);
    expect(lines[1]).toBe('short');
  });

  it('exposes capabilities and refuses plain invokables and work after close()', async () => {
    const { executor } = setup();
    expect(executor.name).toBe('process');
    expect(executor.capabilities).toEqual({
      hardStop: true,
      diagnostics: true,
      isolation: 'process',
      hardStopMs: 5_000 + 250, // killGraceMs + the group-gone slack
    });
    expect(() => launch(executor, { invokable: { invoke: () => 1 } })).toThrow(
      /must be \{ module, export\? \}/,
    );
    await executor.close();
    expect(() => launch(executor, { invokable: { module: echo } })).toThrow(ExecutorClosedError);
  });
});

describe('ProcessExecutor options', () => {
  it.each([
    [{ maxProcesses: 0 }, RangeError, /options\.maxProcesses/],
    [{ maxProcesses: 1.5 }, RangeError, /options\.maxProcesses/],
    [{ maxProcesses: '2' }, TypeError, /options\.maxProcesses/],
    [{ killGraceMs: -1 }, RangeError, /options\.killGraceMs/],
    [{ killGraceMs: Number.POSITIVE_INFINITY }, RangeError, /options\.killGraceMs/],
    [{ execArgv: '--inspect' }, TypeError, /options\.execArgv/],
    [{ execArgv: [1] }, TypeError, /options\.execArgv/],
    [{ env: 'PATH=/bin' }, TypeError, /options\.env/],
    [{ cwd: '' }, TypeError, /options\.cwd/],
    [{ reuse: 'yes' }, TypeError, /options\.reuse/],
    [{ idleTimeoutMs: -5 }, RangeError, /options\.idleTimeoutMs/],
    [{ maxLogLineBytes: 10 }, RangeError, /options\.maxLogLineBytes/],
    [{ spawn: 'spawn' }, TypeError, /options\.spawn/],
    [{ kill: 42 }, TypeError, /options\.kill/],
    [{ diagnoseTimeoutMs: 2 ** 31 }, RangeError, /options\.diagnoseTimeoutMs/],
    [{ diagnoseTimeoutMs: Number.POSITIVE_INFINITY }, RangeError, /options\.diagnoseTimeoutMs/],
    [{ watchdogPollMs: 2 ** 31 }, RangeError, /options\.watchdogPollMs/],
    [{ maxMessageBytes: 1024 }, RangeError, /options\.maxMessageBytes/],
    [{ maxMessageBytes: 2 ** 32 }, RangeError, /options\.maxMessageBytes/],
    [{ maxMessageBytes: '1MB' }, TypeError, /options\.maxMessageBytes/],
    [{ killGraceMS: 100 }, TypeError, /unknown option.*killGraceMS/],
    [{ maxProcess: 2, reuse: true, idleTimeout: 5 }, TypeError, /maxProcess, idleTimeout/],
  ])('rejects %o up front', (options, type, message) => {
    expect(() => new ProcessExecutor(options as never)).toThrow(type);
    expect(() => new ProcessExecutor(options as never)).toThrow(message);
  });

  it('passes cwd, env and execArgv to the child', async () => {
    const ledger = new PidLedger();
    const executor = new ProcessExecutor({
      spawn: ledger.spawn,
      cwd: ledger.dir,
      env: { ...process.env, TASKWARDEN_TEST_VAR: 'from-options' },
      execArgv: ['--max-old-space-size=64'],
    });
    const runtime = startRuntime(executor);
    try {
      const outcome = await runtime.submit({
        jobId: 'job',
        allocationId: 'slot-0',
        invokable: { module: fixture('environment.mjs') },
      }).done;
      expect(outcome.result).toEqual({
        cwd: ledger.dir,
        variable: 'from-options',
        execArgv: ['--max-old-space-size=64'],
      });
    } finally {
      await runtime.close();
      expect(ledger.cleanup()).toEqual([]);
    }
  });
});
