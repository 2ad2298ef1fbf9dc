// Plain JavaScript (ES modules) against the installed tarballs, as an application would write it:
// one task finishes and one is cancelled on each of the inline, worker and process executors. The
// `container` option is used with tsyringe imported after the SDK (the order the README gives), and
// the application's own pino logger. Prints a JSON summary; exits non-zero when a check fails.
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import { createRuntime, EmitOnlyFatalErrorHandler, Tokens } from '@taskwarden/sdk';
import { isGone, ManualScheduler, until } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { container } from 'tsyringe';

// A program that hangs must not hang the check: give up after 30 s.
setTimeout(() => {
  console.error('esm-program: still running after 30 s');
  process.exit(2);
}, 30_000).unref();

const tasks = new URL('./tasks.mjs', import.meta.url).href;
const logLines = [];
const logger = pino({ level: 'info' }, { write: (line) => logLines.push(JSON.parse(line)) });
const services = container.createChildContainer();
services.registerInstance(Tokens.Logger, logger);

const worker = new WorkerExecutor({ maxThreads: 1 });
const processes = new ProcessExecutor({ maxProcesses: 1 });
const runtime = createRuntime({
  numberOfSlots: 1,
  executors: { inline: new InlineExecutor(), worker, process: processes },
  cancellation: { interruptIntervalMs: 5_000, gracePeriodMs: 5_000, timeoutMs: 20_000 },
  fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
  container: services,
});
runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
runtime.slotTable.markSlotActive('slot');

const inlineInvokables = {
  echo: ({ input }) => ({ ...input, pid: process.pid }),
  untilCancelled: ({ signal }) =>
    new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
};
const summary = { executors: {}, childPids: [], childrenGone: false, threadsAfterClose: -1 };
for (const executor of ['inline', 'worker', 'process']) {
  const invokable = (name) =>
    executor === 'inline' ? inlineInvokables[name] : { module: tasks, export: name };
  const finished = runtime.submit({
    jobId: 'job',
    allocationId: 'slot',
    executor,
    name: `${executor}-echo`,
    invokable: invokable('echo'),
    input: { value: 42 },
  });
  const finishedOutcome = await finished.done;
  const cancelled = runtime.submit({
    jobId: 'job',
    allocationId: 'slot',
    executor,
    name: `${executor}-until-cancelled`,
    invokable: invokable('untilCancelled'),
  });
  await until(() => cancelled.state === 'RUNNING', `${executor}: the task to run`);
  if (executor === 'process') summary.childPids.push(...processes.pids);
  cancelled.cancel();
  const cancelledOutcome = await cancelled.done;
  summary.executors[executor] = {
    finished: { state: finishedOutcome.state, value: finishedOutcome.result?.value },
    cancelled: {
      state: cancelledOutcome.state,
      cancellationRequested: cancelledOutcome.cancellationRequested,
      abandoned: cancelledOutcome.abandoned,
    },
  };
}
await runtime.close();
summary.threadsAfterClose = worker.threadCount;
summary.childrenGone = summary.childPids.every((pid) => isGone(pid));
summary.transitionsLogged = logLines.filter((line) => line.executionId !== undefined).length;
summary.health = runtime.health;

// @taskwarden/sdk/testing works without vitest; only the conformance subpath needs it.
const scheduler = new ManualScheduler();
let fired = false;
scheduler.schedule(10, () => {
  fired = true;
});
scheduler.advance(10);
summary.manualSchedulerFired = fired;
summary.conformanceWithoutVitest = await import('@taskwarden/sdk/testing/conformance').then(
  () => 'loaded',
  (error) => `${error.code}: ${/'vitest'/.test(error.message) ? 'vitest' : error.message}`,
);

console.log(JSON.stringify(summary));
const expected = {
  finished: { state: 'FINISHED', value: 42 },
  cancelled: { state: 'CANCELED', cancellationRequested: true, abandoned: false },
};
for (const [executor, outcomes] of Object.entries(summary.executors)) {
  assert.ok(isDeepStrictEqual(outcomes, expected), `${executor}: ${JSON.stringify(outcomes)}`);
}
assert.equal(summary.childPids.length, 1);
assert.equal(summary.childrenGone, true);
assert.equal(summary.threadsAfterClose, 0);
assert.ok(summary.transitionsLogged > 0, 'the runtime logs through the logger from the container');
assert.equal(summary.manualSchedulerFired, true);
assert.equal(summary.conformanceWithoutVitest, 'ERR_MODULE_NOT_FOUND: vitest');
