import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import type { Executor } from '@taskwarden/sdk';
import { captureLogger, launchDirectly } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { QUIET, ref, threadsEnded } from './worker-harness.js';

/**
 * Issue 15: the logger of a worker task is pino's Logger as task code uses it, and writes what the
 * inline executor's (a real pino child) writes for the same calls.
 */
async function runOn(executor: Executor, exportName: string) {
  const { logger, lines } = captureLogger('info');
  const task = { executionId: 'exec-1', jobId: 'job-1', name: 'probe' };
  const taskLogger = logger
    .child({ service: 'billing' })
    .child({ jobId: task.jobId, executionId: task.executionId, task: task.name });
  const run = launchDirectly(executor, {
    invokable: ref('logger.mjs', exportName),
    task,
    logger: taskLogger,
  });
  const outcome = await run.outcome;
  await executor.close();
  const written = lines.map(({ time: _time, pid: _pid, hostname: _hostname, ...line }) => {
    const err = line.err as { stack?: unknown } | undefined;
    if (err) delete err.stack; // the stacks differ (the worker's runner is in the trace)
    return line;
  });
  return { outcome, written };
}

describe('WorkerExecutor: ctx.logger (issue 15)', () => {
  it('has bindings(), setBindings(), child options, levels and the level-change event, as inline does', async () => {
    const inline = await runOn(new InlineExecutor(), 'inspectLogger');
    const worker = await runOn(new WorkerExecutor({ maxThreads: 1, logger: QUIET }), 'inspectLogger');
    await threadsEnded();
    expect(inline.outcome).toMatchObject({
      ok: true,
      value: {
        bindings: { service: 'billing', jobId: 'job-1', executionId: 'exec-1', task: 'probe' },
        childBindings: { service: 'billing', component: 'inner', phase: 'two' },
        childLevel: 'warn',
        before: 'info',
        after: 'debug',
        // A child's level change is heard by a listener on its parent, as in pino.
        events: [
          ['warn', 40, 'info', 30],
          ['debug', 20, 'info', 30],
        ],
        unknownLevel: 'unknown level loud',
        prefix: '[inner] ',
      },
    });
    expect(worker.outcome).toEqual(inline.outcome);
  });

  it('writes errors with their type (Error, TypeError, a class of the task), fields, child bindings and prefix as inline does', async () => {
    const inline = await runOn(new InlineExecutor(), 'logsErrors');
    const worker = await runOn(new WorkerExecutor({ maxThreads: 1, logger: QUIET }), 'logsErrors');
    await threadsEnded();
    expect(inline.written).toEqual([
      expect.objectContaining({ level: 50, err: { type: 'Error', message: '' } }),
      expect.objectContaining({ level: 50, err: { type: 'TypeError', message: 'a type error' } }),
      expect.objectContaining({ level: 40, err: { type: 'QuotaError', message: 'a class of the task' } }),
      expect.objectContaining({ err: { type: 'RangeError', message: 'as a field' }, extra: 1 }),
      expect.objectContaining({
        component: 'inner',
        phase: 'two',
        n: 1,
        msg: '[inner] from the child formatted',
      }),
    ]);
    expect(worker.written).toEqual(inline.written);
  });
});
