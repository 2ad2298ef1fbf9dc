import type { KillFunction, SpawnFunction } from '@taskwarden/executor-process';
import { ProcessExecutor, ProcessSpawnError } from '@taskwarden/executor-process';
import type { TaskRuntime } from '@taskwarden/sdk';
import {
  CancellationArmingError,
  createRuntime,
  EmitOnlyFatalErrorHandler,
  ErrorCode,
} from '@taskwarden/sdk';
import { isGone } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, PidLedger, startRuntime, untilRecorded } from './helpers.js';

function errnoError(code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`spawn ${code}`);
  error.code = code;
  error.syscall = 'spawn';
  return error;
}

describe('ProcessExecutor: spawn failures and a kill that cannot start', () => {
  let ledger: PidLedger;
  let runtime: TaskRuntime | undefined;
  let executor: ProcessExecutor | undefined;

  afterEach(async () => {
    await runtime?.close();
    await executor?.close();
    runtime = undefined;
    executor = undefined;
    expect(ledger.cleanup()).toEqual([]);
  });

  function submit(module: string, input?: unknown) {
    if (!runtime) throw new Error('no runtime');
    return runtime.submit({ jobId: 'job', allocationId: 'slot-0', invokable: { module }, input });
  }

  it.each(['EAGAIN', 'ENOMEM', 'EMFILE'])(
    'a spawn that throws %s fails the task in DEPLOYING; the executor recovers',
    async (code) => {
      ledger = new PidLedger();
      let failures = 1;
      const spawn = ((...args: Parameters<SpawnFunction>) => {
        if (failures-- > 0) throw errnoError(code);
        return ledger.spawn(...args);
      }) as SpawnFunction;
      executor = new ProcessExecutor({ spawn });
      runtime = startRuntime(executor);
      const transitions: string[] = [];
      runtime.events.on('taskStateChanged', ({ from, to }) => transitions.push(`${from}->${to}`));
      const outcome = await submit(fixture('echo.mjs'), 1).done;
      expect(outcome.state).toBe('FAILED');
      expect(transitions).toEqual(['CREATED->DEPLOYING', 'DEPLOYING->FAILED']);
      expect(outcome.error).toBeInstanceOf(ProcessSpawnError);
      expect(outcome.error).toMatchObject({ code: ErrorCode.LAUNCH_FAILED, errno: code });
      expect(executor.stats.processes).toBe(0);
      expect(await submit(fixture('echo.mjs'), 2).done).toMatchObject({ state: 'FINISHED' });
    },
  );

  it('an asynchronous spawn error (reported by an error event) fails the task too', async () => {
    ledger = new PidLedger();
    // A working directory that does not exist makes the real spawn emit ENOENT asynchronously.
    executor = new ProcessExecutor({ spawn: ledger.spawn, cwd: '/nonexistent/taskwarden-cwd' });
    runtime = startRuntime(executor);
    const outcome = await submit(fixture('echo.mjs'), 1).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProcessSpawnError);
    expect(outcome.error).toMatchObject({ errno: 'ENOENT' });
    expect(executor.stats.processes).toBe(0);
  });

  it('a task cancelled while its spawn fails ends CANCELED: no work was ever started', async () => {
    ledger = new PidLedger();
    executor = new ProcessExecutor({ spawn: ledger.spawn, cwd: '/nonexistent/taskwarden-cwd' });
    runtime = startRuntime(executor);
    const task = submit(fixture('echo.mjs'), 1);
    await Promise.resolve();
    await Promise.resolve();
    expect(task.state).toBe('DEPLOYING');
    task.cancel();
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
    expect(outcome.error).toBeInstanceOf(ProcessSpawnError);
  });

  it('when the hard stop cannot start, kill() throws and the task is escalated at once', async () => {
    ledger = new PidLedger();
    // SIGTERM is refused (as if the child had changed its credentials); SIGKILL still works.
    const kill: KillFunction = (pid, signal) => {
      if (signal === 'SIGTERM') {
        const error: NodeJS.ErrnoException = new Error('kill EPERM');
        error.code = 'EPERM';
        throw error;
      }
      return process.kill(pid, signal);
    };
    executor = new ProcessExecutor({ spawn: ledger.spawn, kill, killGraceMs: 100 });
    const fatal: Error[] = [];
    runtime = createRuntime({
      numberOfSlots: 1,
      executors: { process: executor },
      defaultExecutor: 'process',
      cancellation: { interruptIntervalMs: 200, gracePeriodMs: 200, timeoutMs: 1_000 },
      fatalErrorHandler: { onFatalError: (error) => fatal.push(error) },
      logger: pino({ level: 'silent' }),
    });
    runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot-0' });
    runtime.slotTable.markSlotActive('slot-0');
    const pidFile = ledger.pidFile();
    const task = submit(fixture('deaf-with-grandchild.mjs'), { pidFile });
    await untilRecorded(ledger, pidFile, 'invoked');
    const cancelledAt = Date.now();
    task.cancel();
    const outcome = await task.done;
    // Eager escalation at the hard stop (200 ms), not at the watchdog (1 000 ms).
    expect(Date.now() - cancelledAt).toBeLessThan(900);
    expect(outcome).toMatchObject({ state: 'FAILED', abandoned: true });
    expect(outcome.error).toBeInstanceOf(CancellationArmingError);
    expect((outcome.error as Error & { cause: NodeJS.ErrnoException }).cause.code).toBe('EPERM');
    expect(fatal).toHaveLength(1);
    expect(runtime.health).toBe('fatal');
    // The abandoned tree still runs; close() stops it by the way that works (SIGKILL to the group).
    const [child] = ledger.pidsOf(pidFile, 'child');
    expect(isGone(child as number)).toBe(false);
    await runtime.close();
    await executor.close();
    for (const pid of ledger.all()) expect(isGone(pid)).toBe(true);
  });

  it('spawn failures are not fatal to the runtime', async () => {
    ledger = new PidLedger();
    const fatal = new EmitOnlyFatalErrorHandler();
    executor = new ProcessExecutor({
      spawn: (() => {
        throw errnoError('EAGAIN');
      }) as SpawnFunction,
    });
    runtime = createRuntime({
      numberOfSlots: 1,
      executors: { process: executor },
      defaultExecutor: 'process',
      fatalErrorHandler: fatal,
      logger: pino({ level: 'silent' }),
    });
    runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot-0' });
    runtime.slotTable.markSlotActive('slot-0');
    expect((await submit(fixture('echo.mjs')).done).state).toBe('FAILED');
    expect(runtime.health).toBe('running');
  });
});
