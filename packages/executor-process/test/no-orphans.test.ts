import { spawn } from 'node:child_process';
import { ProcessExecutor } from '@taskwarden/executor-process';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, isGone, PidLedger, startRuntime, untilRecorded, waitGone } from './helpers.js';

describe('ProcessExecutor leaves no orphans', () => {
  let ledger: PidLedger;

  afterEach(() => {
    // On failure this SIGKILLs every recorded survivor (by pid and by group) before reporting it.
    expect(ledger.cleanup()).toEqual([]);
  });

  it.each([
    ['a CPU-bound child (the watchdog thread notices)', 'cpu-bound.mjs'],
    ['an idle child (the control pipe closes)', 'deaf-with-grandchild.mjs'],
  ])('when the host is SIGKILLed, %s and its grandchild die within ~1.5 s', async (_case, name) => {
    ledger = new PidLedger();
    const pidFile = ledger.pidFile();
    const host = spawn(process.execPath, [fixture('host.mjs'), pidFile, name], { stdio: 'ignore' });
    ledger.add(host.pid);
    const exited = new Promise((resolve) => host.once('exit', resolve));
    await untilRecorded(ledger, pidFile, 'invoked', 15_000);
    const [child] = ledger.pidsOf(pidFile, 'child');
    const [grandchild] = ledger.pidsOf(pidFile, 'grandchild');
    expect(isGone(child as number)).toBe(false);
    expect(isGone(grandchild as number)).toBe(false);

    host.kill('SIGKILL');
    await exited;
    await waitGone([child as number, grandchild as number], 1_500);
  });

  it('a task that returns leaving a grandchild behind does not orphan it', async () => {
    ledger = new PidLedger();
    const executor = new ProcessExecutor({ spawn: ledger.spawn });
    const runtime = startRuntime(executor);
    const pidFile = ledger.pidFile();
    const outcome = await runtime.submit({
      jobId: 'job',
      allocationId: 'slot-0',
      invokable: { module: fixture('leaves-grandchild.mjs') },
      input: { pidFile },
    }).done;
    expect(outcome).toMatchObject({ state: 'FINISHED', result: 'returned' });
    // Without reuse the whole group is gone by the time `done` resolves.
    for (const pid of ledger.all()) expect(isGone(pid)).toBe(true);
    await runtime.close();
  });

  it('close() stops running work, SIGTERM-deaf grandchildren included, before it resolves', async () => {
    ledger = new PidLedger();
    const executor = new ProcessExecutor({ spawn: ledger.spawn, killGraceMs: 200, maxProcesses: 3 });
    const files = [ledger.pidFile(), ledger.pidFile()];
    const executions = files.map((pidFile, index) =>
      executor.launch({
        task: { executionId: `e${index}`, jobId: 'job', allocationId: 'a', name: 'deaf', attempt: 1 },
        invokable: { module: fixture('deaf-with-grandchild.mjs') },
        input: { pidFile },
        logger: pino({ level: 'silent' }),
        onRunning: () => undefined,
      }),
    );
    const queued = executor.launch({
      task: { executionId: 'e-queued', jobId: 'job', allocationId: 'a', name: 'cpu', attempt: 1 },
      invokable: { module: fixture('cpu-bound.mjs') },
      input: {},
      logger: pino({ level: 'silent' }),
      onRunning: () => undefined,
    });
    for (const file of files) await untilRecorded(ledger, file, 'invoked');
    const results = [...executions, queued].map((execution) =>
      execution.result.catch((error: unknown) => error),
    );
    await executor.close();
    expect(executor.stats.processes).toBe(0);
    for (const pid of ledger.all()) expect(isGone(pid)).toBe(true);
    for (const result of await Promise.all(results)) expect(result).toBeInstanceOf(Error);
    await waitGone(ledger.all(), 0);
  });
});
