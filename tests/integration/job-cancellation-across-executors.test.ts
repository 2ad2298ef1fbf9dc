// cancelJob over one job mixing inline, worker and process tasks (the Prefect semantics of issue 6).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import type { Task, TaskRuntime } from '@taskwarden/sdk';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import { until } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/job-tasks.mjs', import.meta.url));
let runtime: TaskRuntime | undefined;
let worker: WorkerExecutor | undefined;
let processes: ProcessExecutor | undefined;
let dir: string | undefined;

afterEach(async () => {
  await runtime?.close();
  expect(worker?.threadCount ?? 0).toBe(0);
  expect(processes?.pids ?? []).toEqual([]);
  if (dir) rmSync(dir, { recursive: true, force: true });
  runtime = undefined;
});

describe('cancelJob across inline, worker and process executors', () => {
  it('ends every task with its real final state; waiting and late tasks are never invoked', async () => {
    dir = mkdtempSync(join(tmpdir(), 'taskwarden-job-'));
    const log = join(dir, 'invocations.log');
    writeFileSync(log, '');
    worker = new WorkerExecutor({ maxThreads: 2 });
    processes = new ProcessExecutor({ maxProcesses: 1, killGraceMs: 200 });
    const rt = createRuntime({
      numberOfSlots: 2,
      executors: { inline: new InlineExecutor(), worker, process: processes },
      cancellation: { interruptIntervalMs: 200, gracePeriodMs: 400, timeoutMs: 10_000 },
      fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
      logger: pino({ level: 'silent' }),
    });
    runtime = rt;
    for (const [index, jobId] of ['job', 'other'].entries()) {
      rt.slotTable.allocateSlot({ index, jobId, allocationId: `${jobId}-slot` });
      rt.slotTable.markSlotActive(`${jobId}-slot`);
    }
    const events: string[] = [];
    rt.events.on('jobStateChanged', ({ jobId, from, to }) => events.push(`${jobId}:${from}->${to}`));
    const submit = (
      name: string,
      executor: string,
      fn: string,
      extra: Record<string, unknown> = {},
      jobId = 'job',
    ) =>
      rt.submit({
        jobId,
        allocationId: `${jobId}-slot`,
        name,
        executor,
        invokable: { module: fixture, export: fn },
        input: { log, name, ...extra },
      });

    const tasks: Record<string, Task> = {
      cooperativeWorker: submit('cooperative-worker', 'worker', 'cooperative'),
      cpuBoundWorker: submit('cpu-bound-worker', 'worker', 'cpuBound'),
      waitingWorker: submit('waiting-worker', 'worker', 'quick'), // both threads are busy
      cooperativeProcess: submit('cooperative-process', 'process', 'cooperative'),
      waitingProcess: submit('waiting-process', 'process', 'quick'), // maxProcesses: 1
      // Long enough to be still running once every other task has started, even on a loaded machine.
      finishesAnyway: submit('finishes-anyway', 'inline', 'finishesAnyway', { ms: 2_000 }),
      failing: submit('failing', 'inline', 'cooperative'),
    };
    const bystander = submit('bystander', 'inline', 'finishesAnyway', { ms: 500 }, 'other');
    const started = [
      'cooperativeWorker',
      'cpuBoundWorker',
      'cooperativeProcess',
      'finishesAnyway',
      'failing',
    ];
    await until(
      () => started.every((key) => tasks[key]?.state === 'RUNNING'),
      () => `the running tasks: ${started.map((key) => `${key} ${tasks[key]?.state}`).join(', ')}`,
      15_000,
    );
    await until(
      () => readFileSync(log, 'utf8').split('\n').length > started.length,
      'every running task to record',
      15_000,
    );
    expect(tasks.waitingWorker?.state).toBe('DEPLOYING');
    expect(tasks.waitingProcess?.state).toBe('DEPLOYING');

    const report = rt.cancelJob('job');
    expect(events).toEqual(['job:RUNNING->CANCELING']);
    const late = submit('late', 'worker', 'quick');
    expect(late.state).toBe('CANCELED');
    const cause = new Error('failed while the job was cancelling');
    tasks.failing?.fail(cause);

    const result = await report;
    const finalStates = Object.fromEntries(result.tasks.map((task) => [task.name, task.state]));
    expect(finalStates).toEqual({
      'cooperative-worker': 'CANCELED',
      'cpu-bound-worker': 'CANCELED', // hard-stopped: its thread was terminated
      'waiting-worker': 'CANCELED',
      'cooperative-process': 'CANCELED',
      'waiting-process': 'CANCELED',
      'finishes-anyway': 'FINISHED',
      failing: 'FAILED',
      late: 'CANCELED',
    });
    expect((await tasks.failing?.done)?.error).toBe(cause);
    expect((await tasks.finishesAnyway?.done)?.cancellationRequested).toBe(true);
    for (const task of Object.values(tasks)) expect((await task.done).abandoned).toBe(false);
    expect(events).toEqual(['job:RUNNING->CANCELING', 'job:CANCELING->CANCELED']);

    const invoked = readFileSync(log, 'utf8').trim().split('\n').sort();
    expect(invoked).toEqual(
      [
        'bystander',
        'cooperative-process',
        'cooperative-worker',
        'cpu-bound-worker',
        'failing',
        'finishes-anyway',
      ].sort(),
    );
    expect(await bystander.done).toMatchObject({ state: 'FINISHED', cancellationRequested: false });
  });
});
