// The seed's out-of-threads bug: the cancellation machinery cannot start. Flink leaves the task in
// CANCELING forever; we escalate synchronously and end it FAILED.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  CancellationArmingError,
  CancellationTimeoutError,
  createRuntime,
  ErrorCode,
  ExitProcessFatalErrorHandler,
  FATAL_EXIT_CODE,
  FATAL_EXIT_DEADLINE_MS,
  RuntimeFatalError,
} from '../src/index.js';
import {
  isGone,
  ManualScheduler,
  ScriptedExecutor,
  ThrowingScheduler,
  tempDir,
  until,
} from '../src/testing/index.js';
import { captureLogger, TIMINGS, testRuntime } from './helpers.js';

function throwingRuntime(executorOptions = {}, logger?: pino.Logger) {
  const manual = new ManualScheduler();
  const throwing = new ThrowingScheduler(manual, () => new Error('unable to create new native thread'));
  const t = testRuntime(executorOptions, logger ? { scheduler: throwing, logger } : { scheduler: throwing });
  return { ...t, throwing, manual };
}

describe('eager fatal escalation', () => {
  it('a timer that cannot be created: handler called synchronously, FAILED before cancel() returns', async () => {
    const t = throwingRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    t.throwing.failFrom(1);

    task.cancel();
    expect(t.fatal.errors).toHaveLength(1);
    expect(task.state).toBe('FAILED');
    const error = t.fatal.errors[0] as CancellationArmingError;
    expect(error).toBeInstanceOf(CancellationArmingError);
    expect(error.code).toBe(ErrorCode.CANCELLATION_ARMING_FAILED);
    expect((error.cause as Error).message).toBe('unable to create new native thread');
    expect(t.runtime.health).toBe('fatal');

    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'FAILED', abandoned: true, cancellationRequested: true, error });
    expect(() => t.submit()).toThrow(RuntimeFatalError);
    // Best effort: the work was still asked to stop.
    expect(execution.cancelCalls).toHaveLength(1);
  });

  it.each([1, 2, 3])('escalates when arming stage %i of the ladder fails', async (nth) => {
    const t = throwingRuntime({ hardStop: true });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    t.throwing.failOnNth(nth);
    task.cancel();
    expect(task.state).toBe('FAILED');
    expect(t.fatal.errors).toHaveLength(1);
    expect((await task.done).abandoned).toBe(true);
    // Stages armed before the failure were cancelled: nothing fires later.
    expect(t.throwing.calls).toBe(nth);
  });

  it('fail() that cannot arm the ladder also escalates; the external cause stays the failure cause', async () => {
    const t = throwingRuntime();
    const task = t.submit();
    (await t.executor.nextLaunch()).run();
    t.throwing.failFrom(1);
    const cause = new Error('external');
    task.fail(cause);
    expect(t.fatal.errors).toHaveLength(1);
    expect(await task.done).toMatchObject({ state: 'FAILED', error: cause, abandoned: true });
  });

  it('an executor whose cancel() throws does not escalate: the armed ladder ends the task', async () => {
    const t = testRuntime({ hardStop: true, cancelError: new Error('cancel exploded') });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    expect(() => task.cancel()).not.toThrow();
    expect(task.state).toBe('CANCELING');
    expect(t.fatal.errors).toHaveLength(0);
    await t.scheduler.advanceAsync(TIMINGS.gracePeriodMs);
    expect(await task.done).toMatchObject({ state: 'CANCELED', abandoned: false });
  });

  it('a failure re-arming the interrupter is logged; the watchdog still ends the task', async () => {
    const { logger, lines } = captureLogger('error');
    const t = throwingRuntime({}, logger);
    const task = t.submit();
    (await t.executor.nextLaunch()).run();
    task.cancel();
    expect(t.throwing.calls).toBe(2); // watchdog + interrupter (no hard stop capability)
    t.throwing.failFrom(1);
    await t.manual.advanceAsync(TIMINGS.interruptIntervalMs);
    expect(task.state).toBe('CANCELING');
    expect(t.fatal.errors).toHaveLength(0);
    expect(lines.some((line) => line.msg === 'could not re-arm the interrupter')).toBe(true);
    await t.manual.advanceAsync(TIMINGS.timeoutMs - TIMINGS.interruptIntervalMs);
    expect(t.fatal.errors[0]).toBeInstanceOf(CancellationTimeoutError);
    expect(await task.done).toMatchObject({ state: 'FAILED', abandoned: true });
  });

  it('a fatal handler that throws still leaves the task FAILED and cancel() does not throw', async () => {
    const executor = new ScriptedExecutor();
    const scheduler = new ThrowingScheduler(new ManualScheduler());
    const runtime = createRuntime({
      numberOfSlots: 1,
      executors: { scripted: executor },
      scheduler,
      logger: pino({ level: 'silent' }),
      fatalErrorHandler: {
        onFatalError() {
          throw new Error('handler bug');
        },
      },
    });
    runtime.slotTable.allocateSlot({ index: 0, jobId: 'j', allocationId: 'a' });
    runtime.slotTable.markSlotActive('a');
    const task = runtime.submit({ jobId: 'j', allocationId: 'a', invokable: () => 1 });
    (await executor.nextLaunch()).run();
    scheduler.failFrom(1);
    expect(() => task.cancel()).not.toThrow();
    expect(task.state).toBe('FAILED');
    expect((await task.done).abandoned).toBe(true);
    expect(runtime.health).toBe('fatal');
  });
});

describe('ExitProcessFatalErrorHandler', () => {
  it('logs at fatal level, flushes and exits with FATAL_EXIT_CODE', () => {
    const { logger, lines } = captureLogger('info');
    const exits: number[] = [];
    const handler = new ExitProcessFatalErrorHandler({ logger, exit: (code) => exits.push(code) });
    handler.onFatalError(new CancellationTimeoutError({ executionId: 'e', taskName: 'n', timeoutMs: 5 }));
    expect(exits).toEqual([FATAL_EXIT_CODE]);
    expect(FATAL_EXIT_CODE).toBe(70);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 60, msg: 'fatal error: exiting the process' });
  });

  it('is the default handler: a real runtime exits the process with code 70 on a watchdog timeout', async () => {
    const { spawnSync } = await import('node:child_process');
    const script = fileURLToPath(new URL('./fixtures/default-fatal-exit.mjs', import.meta.url));
    const child = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
    expect(child.status).toBe(FATAL_EXIT_CODE);
    expect(child.stderr).toContain('CANCELLATION_TIMEOUT');
    // The SIGKILL deadline it armed ends with the process, well before its 1 s would run out:
    // nothing of it is left.
    await until(
      () => deadlineKillers().length === 0,
      'the deadline shell to end',
      FATAL_EXIT_DEADLINE_MS / 2,
    );
  });

  it('a worker thread blocked in native code cannot hang the exit: SIGKILL within the deadline', async () => {
    const dir = tempDir('fatal-fifo');
    try {
      const fifo = dir.file('nobody-writes');
      execFileSync('mkfifo', [fifo]);
      const script = fileURLToPath(new URL('./fixtures/fatal-exit-blocked-thread.mjs', import.meta.url));
      const child = spawn(process.execPath, [script, fifo], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      let fatalAt = 0;
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (fatalAt === 0 && stderr.includes('CANCELLATION_TIMEOUT')) fatalAt = Date.now();
      });
      // Without the deadline the exit hangs for ever: end the child ourselves (by pid) after 10 s.
      const guard = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      clearTimeout(guard);
      const goneAfterMs = Date.now() - fatalAt;
      expect(fatalAt).toBeGreaterThan(0);
      // exit(70) could not complete (the blocked thread never joins): the deadline killed it.
      expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
      expect(goneAfterMs).toBeGreaterThanOrEqual(FATAL_EXIT_DEADLINE_MS - 100);
      expect(goneAfterMs).toBeLessThan(FATAL_EXIT_DEADLINE_MS + 1_000);
      await until(() => deadlineKillers().length === 0, 'the deadline shell to end', 3_000);
    } finally {
      dir[Symbol.dispose]();
    }
  });
});

/** Live `/bin/sh` deadline processes armed by the fatal handler (from any test process). */
function deadlineKillers(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('taskwarden-fatal-deadline') && !isGone(Number(entry))) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

describe('a hard stop that cannot start', () => {
  it('escalates at once when kill() throws synchronously', async () => {
    const t = testRuntime({ hardStop: true });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    execution.kill = () => {
      throw Object.assign(new Error('spawn EAGAIN'), { code: 'EAGAIN' });
    };
    task.cancel();
    await t.scheduler.advanceAsync(TIMINGS.gracePeriodMs - 1);
    expect(t.fatal.errors).toHaveLength(0);
    await t.scheduler.advanceAsync(1);
    expect(t.fatal.errors).toHaveLength(1);
    expect(t.fatal.errors[0]).toBeInstanceOf(CancellationArmingError);
    expect((t.fatal.errors[0] as Error & { cause: Error }).cause.message).toBe('spawn EAGAIN');
    expect(await task.done).toMatchObject({ state: 'FAILED', abandoned: true });
    expect(t.scheduler.pendingCount).toBe(0);
  });

  it('leaves a kill() that rejects to the watchdog', async () => {
    const t = testRuntime({ hardStop: true });
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    execution.kill = () => Promise.reject(new Error('group already gone?'));
    task.cancel();
    await t.scheduler.advanceAsync(TIMINGS.gracePeriodMs);
    expect(t.fatal.errors).toHaveLength(0);
    expect(task.state).toBe('CANCELING');
    await t.scheduler.advanceAsync(TIMINGS.timeoutMs - TIMINGS.gracePeriodMs);
    expect(t.fatal.errors[0]).toBeInstanceOf(CancellationTimeoutError);
    expect((await task.done).abandoned).toBe(true);
  });
});
