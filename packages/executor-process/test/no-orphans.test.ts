import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { ProcessExecutor, ProcessExitedError } from '@taskwarden/executor-process';
import { ExecutorClosedError } from '@taskwarden/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, isGone, launch, PidLedger, startRuntime, untilRecorded, waitGone } from './helpers.js';

describe('ProcessExecutor leaves no orphans', () => {
  let ledger: PidLedger;
  let host: ChildProcess | undefined;
  let hostExited: Promise<unknown> | undefined;

  /** Starts `host.mjs` in its own process group and waits until its task runs. */
  async function startHost(
    pidFile: string,
    name: string,
    options: { watchdogPollMs?: number; notDetached?: boolean; grandchild?: boolean } = {},
  ): Promise<{ child: number; grandchild: number | undefined }> {
    host = spawn(process.execPath, [fixture('host.mjs'), pidFile, name, JSON.stringify(options)], {
      stdio: 'ignore',
      detached: true,
    });
    ledger.add(host.pid);
    const started = host;
    hostExited = new Promise((resolve) => started.once('exit', resolve));
    await untilRecorded(ledger, pidFile, 'invoked', 15_000);
    const [child] = ledger.pidsOf(pidFile, 'child');
    const [grandchild] = ledger.pidsOf(pidFile, 'grandchild');
    expect(isGone(child as number)).toBe(false);
    if (grandchild !== undefined) expect(isGone(grandchild)).toBe(false);
    return { child: child as number, grandchild };
  }

  async function killHost(): Promise<void> {
    host?.kill('SIGKILL');
    await hostExited;
  }

  afterEach(() => {
    // On failure this SIGKILLs every recorded survivor (by pid and by group) before reporting it.
    expect(ledger.cleanup()).toEqual([]);
  });

  it('when the host is SIGKILLed, a CPU-bound child (the watchdog thread notices) and its grandchild die within ~1.5 s', async () => {
    ledger = new PidLedger();
    const pidFile = ledger.pidFile();
    const { child, grandchild } = await startHost(pidFile, 'cpu-bound.mjs');
    await killHost();
    await waitGone([child, grandchild as number], 1_500);
  });

  it('when the host is SIGKILLed, an idle child and its grandchild die through the control pipe alone', async () => {
    ledger = new PidLedger();
    const pidFile = ledger.pidFile();
    // The watchdog thread polls only every 60 s here, so it cannot explain a death within 1.5 s: only
    // the end-of-file on the control pipe can.
    const { child, grandchild } = await startHost(pidFile, 'deaf-with-grandchild.mjs', {
      watchdogPollMs: 60_000,
    });
    await killHost();
    await waitGone([child, grandchild as number], 1_500);
  });

  it('when the group kill fails, the watchdog thread still kills its own process', async () => {
    ledger = new PidLedger();
    const pidFile = ledger.pidFile();
    // Fault injection: the child does not lead a process group, so the watchdog's kill(-pgid) fails
    // (ESRCH). A CPU-bound main thread never sees the control pipe close: only the watchdog can act.
    const { child } = await startHost(pidFile, 'cpu-bound.mjs', { notDetached: true, grandchild: false });
    await killHost();
    await waitGone([child], 1_500);
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

  it('close() stops running work, SIGTERM-deaf grandchildren included, and drops queued tasks', async () => {
    ledger = new PidLedger();
    const executor = new ProcessExecutor({ spawn: ledger.spawn, killGraceMs: 200, maxProcesses: 2 });
    const files = [ledger.pidFile(), ledger.pidFile()];
    const executions = files.map((pidFile, index) =>
      launch(executor, {
        task: { executionId: `e${index}`, jobId: 'job', allocationId: 'a', name: 'deaf', attempt: 1 },
        invokable: { module: fixture('deaf-with-grandchild.mjs') },
        input: { pidFile },
      }),
    );
    // Both processes are taken: this one really waits in the queue.
    const queuedFile = ledger.pidFile();
    const queued = launch(executor, {
      task: { executionId: 'e-queued', jobId: 'job', allocationId: 'a', name: 'cpu', attempt: 1 },
      invokable: { module: fixture('cpu-bound.mjs') },
      input: { pidFile: queuedFile },
    });
    for (const file of files) await untilRecorded(ledger, file, 'invoked');
    expect(executor.stats).toMatchObject({ busy: 2, queued: 1, spawned: 2 });
    const running = executions.map((execution) => execution.result.catch((error: unknown) => error));
    const dropped = queued.result.catch((error: unknown) => error);
    await executor.close();
    expect(executor.stats.processes).toBe(0);
    for (const pid of ledger.all()) expect(isGone(pid)).toBe(true);
    for (const result of await Promise.all(running)) expect(result).toBeInstanceOf(ProcessExitedError);
    expect(await dropped).toBeInstanceOf(ExecutorClosedError);
    // The queued task never got a process.
    expect(ledger.spawnedPids).toHaveLength(2);
    expect(executor.stats.spawned).toBe(2);
    expect(ledger.entries(queuedFile)).toEqual([]);
    await waitGone(ledger.all(), 0);
  });
});
