// What the conformance suite does not cover: the ShellExecutor's own contract, driven through the
// SPI directly (a LaunchSpec by hand, as the runtime would pass it).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { TaskInfo } from '@taskwarden/sdk';
import { ExecutorClosedError, SerializationError, TaskCancelledError } from '@taskwarden/sdk';
import type { DirectLaunchOptions } from '@taskwarden/sdk/testing';
import { launchDirectly } from '@taskwarden/sdk/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ShellExecutor, ShellScriptError } from '../src/shell-executor.js';
import { processesWithEnv, survivors, tagChildProcesses } from './processes.js';

const tag = tagChildProcesses();
let dir: string;
let executor: ShellExecutor | undefined;

/** What to launch: a fixture script, its input, who the task is. */
function spec(script: string, input: unknown, task: Partial<TaskInfo> = {}): DirectLaunchOptions {
  return {
    task: { executionId: randomUUID(), name: script, ...task },
    invokable: { module: fileURLToPath(new URL(`./fixtures/${script}.sh`, import.meta.url)) },
    input,
  };
}

/** Launches on `on` as the runtime would, recording what the execution reports. */
function launch(on: ShellExecutor, options: DirectLaunchOptions) {
  const run = launchDirectly(on, options);
  return Object.assign(run, {
    cancel: (reason: Error) => run.execution.cancel(reason),
    kill: () => (run.execution.kill as () => Promise<void>).call(run.execution),
    /** Whether the script was reported RUNNING. */
    ran: () => run.reports.some((report) => report.kind === 'running'),
  });
}

function logFile(): string {
  const file = join(dir, `${randomUUID()}.log`);
  writeFileSync(file, '');
  return file;
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shell-executor-'));
});

afterEach(async () => {
  await executor?.close();
  expect(executor?.liveProcesses ?? 0).toBe(0);
  executor = undefined;
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  expect(await survivors(tag)).toEqual([]);
});

describe('ShellExecutor', () => {
  it('validates its options up front, naming the option', () => {
    expect(() => new ShellExecutor({ maxConcurrent: 0 })).toThrow(RangeError);
    expect(() => new ShellExecutor({ maxConcurrent: 1.5 })).toThrow(/options\.maxConcurrent/);
    expect(() => new ShellExecutor({ maxConcurrent: '2' as unknown as number })).toThrow(TypeError);
    expect(() => new ShellExecutor({ shell: '' })).toThrow(/options\.shell/);
    expect(new ShellExecutor({ maxConcurrent: 3 }).capabilities).toEqual({
      hardStop: true,
      diagnostics: false,
      isolation: 'process',
    });
  });

  it('passes flat input fields as TW_INPUT_* and the whole input as JSON on stdin', async () => {
    executor = new ShellExecutor();
    const input = { name: 'Ada', count: 3, nested: { deep: [true] } };
    const execution = launch(executor, spec('inputs', input, { name: 'greet' }));
    expect(await execution.result).toEqual({ name: 'Ada', count: 3, task: 'greet', stdin: input });
    expect(execution.ran()).toBe(true);
  });

  it('fails a non-zero exit without a structured error with a ShellScriptError', async () => {
    executor = new ShellExecutor();
    const error = await launch(executor, spec('fails', undefined)).result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShellScriptError);
    expect(error).toMatchObject({ code: 'PROCESS_EXITED', exitCode: 3, signal: null });
    expect((error as ShellScriptError).stderrTail).toBe('starting\ndisk full\n');
    expect((error as Error).message).toContain('exited with code 3: disk full');
  });

  it('refuses at launch what it cannot run: an input JSON cannot carry, a relative path', () => {
    executor = new ShellExecutor();
    const shell = executor;
    expect(() => launch(shell, spec('echo', { big: 1n }))).toThrow(SerializationError);
    expect(() => launch(shell, { ...spec('echo', 1), invokable: { module: 'echo.sh' } })).toThrow(
      /absolute path/,
    );
    expect(shell.liveProcesses).toBe(0);
  });

  it('kill() ends a script that ignores cancel(), and every process it started', async () => {
    executor = new ShellExecutor();
    const log = logFile();
    const execution = launch(executor, spec('busy', { log }));
    const settled = () => execution.reports.some((report) => report.kind === 'failed');
    await until(() => processesWithEnv(tag).length >= 2, 'the script and its sleep');
    const reason = new TaskCancelledError('x');
    execution.cancel(reason);
    await sleep(300);
    expect(settled()).toBe(false); // SIGTERM is ignored
    expect(processesWithEnv(tag).length).toBeGreaterThanOrEqual(1);
    await execution.kill();
    expect(settled()).toBe(true); // kill() resolves only once the outcome was reported
    await expect(execution.result).rejects.toBe(reason);
    expect(processesWithEnv(tag)).toEqual([]); // the whole group, the sleep included
  });

  it('kills what a script left running in the background when it exits', async () => {
    executor = new ShellExecutor();
    expect(await launch(executor, spec('orphan', undefined)).result).toBe('done');
    expect(await survivors(tag)).toEqual([]);
  });

  it('queues beyond maxConcurrent; cancelJob drops only that job’s queued tasks, never spawning them', async () => {
    executor = new ShellExecutor({ maxConcurrent: 1 });
    const log = logFile();
    const blocker = launch(executor, spec('cooperative', { log }, { jobId: 'a' }));
    const a = launch(executor, spec('record', { log }, { jobId: 'a' }));
    const b = launch(executor, spec('record', { log }, { jobId: 'b' }));
    await until(() => readFileSync(log, 'utf8') === 'invoked\n', 'the blocker to run');
    expect(executor.liveProcesses).toBe(1);
    await executor.cancelJob('a');
    await expect(a.result).rejects.toBeInstanceOf(TaskCancelledError);
    await expect(a.started).rejects.toBeInstanceOf(TaskCancelledError);
    expect(a.ran()).toBe(false);
    blocker.cancel(new TaskCancelledError('blocker')); // the running task of job a: its own ladder
    await expect(blocker.result).rejects.toMatchObject({ name: 'AbortError', message: 'cancelled' });
    expect(await b.result).toBe(b.spec.task.executionId);
    expect(readFileSync(log, 'utf8')).toBe(`invoked\ncancel-hook\ninvoked ${b.spec.task.executionId}\n`);
  });

  it('close() rejects queued tasks, SIGKILLs running scripts and resolves once they have exited', async () => {
    const closing = new ShellExecutor({ maxConcurrent: 1 });
    const log = logFile();
    const busy = launch(closing, spec('busy', { log }));
    const queued = launch(closing, spec('record', { log }));
    await until(() => readFileSync(log, 'utf8') === 'invoked\n', 'the busy script to run');
    await closing.close();
    expect(closing.liveProcesses).toBe(0);
    expect(processesWithEnv(tag)).toEqual([]);
    await expect(queued.result).rejects.toBeInstanceOf(ExecutorClosedError);
    await expect(busy.result).rejects.toBeInstanceOf(TaskCancelledError);
    expect(() => launch(closing, spec('echo', 1))).toThrow(ExecutorClosedError);
    expect(readFileSync(log, 'utf8')).toBe('invoked\n');
  });
});
