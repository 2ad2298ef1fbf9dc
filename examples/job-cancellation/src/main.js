// Cancelling a job, with the semantics of Prefect's "Support cancellation of active flow runs":
//   - the job moves to CANCELING (it still counts as running) and then CANCELED;
//   - tasks that have not started are never started;
//   - running tasks are asked to stop; one that completes anyway keeps its real final state;
//   - work submitted while the job is cancelling is born CANCELED;
//   - other jobs are not disturbed.
// Run: npm start -w @taskwarden/example-job-cancellation
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';

const dir = mkdtempSync(join(tmpdir(), 'taskwarden-job-'));
const log = join(dir, 'invocations.log');
writeFileSync(log, '');
const work = (exportName) => ({
  module: fileURLToPath(new URL('../tasks/work.mjs', import.meta.url)),
  export: exportName,
});

const runtime = createRuntime({
  numberOfSlots: 2,
  executors: {
    inline: new InlineExecutor(),
    worker: new WorkerExecutor({ maxThreads: 1 }), // one thread: the second worker task must wait
    process: new ProcessExecutor({ maxProcesses: 1 }),
  },
  cancellation: { interruptIntervalMs: 1_000, gracePeriodMs: 2_000, timeoutMs: 10_000 },
  fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
  logger: pino({ level: 'silent' }),
});
const events = [];
runtime.events.on('jobStateChanged', ({ jobId, from, to }) => events.push(`${jobId}: ${from} → ${to}`));

for (const [index, jobId] of ['nightly-report', 'other-job'].entries()) {
  runtime.slotTable.allocateSlot({ index, jobId, allocationId: `${jobId}-slot` });
  runtime.slotTable.markSlotActive(`${jobId}-slot`);
}
const submit = (jobId, name, executor, exportName, extra = {}) =>
  runtime.submit({
    jobId,
    allocationId: `${jobId}-slot`,
    name,
    executionId: name,
    executor,
    invokable: work(exportName),
    input: { log, name, ...extra },
  });

const running = submit('nightly-report', 'running-in-thread', 'worker', 'cooperative');
const waiting = submit('nightly-report', 'waiting-for-thread', 'worker', 'quick');
const inProcess = submit('nightly-report', 'running-in-process', 'process', 'cooperative');
const untilRunning = async (tasks) => {
  while (tasks.some((task) => task.state !== 'RUNNING'))
    await new Promise((resolve) => setTimeout(resolve, 10));
};
await untilRunning([running, inProcess]);
// Submitted once the thread and the process run, so that they are still running when the job is cancelled.
const stubborn = submit('nightly-report', 'finishes-anyway', 'inline', 'finishesAnyway', { ms: 500 });
const bystander = submit('other-job', 'other-job-task', 'inline', 'finishesAnyway', { ms: 800 });
await untilRunning([stubborn]);
console.log(`before: ${waiting.name} is ${waiting.state} (no free thread)`);

const cancelling = runtime.cancelJob('nightly-report');
const late = submit('nightly-report', 'submitted-late', 'inline', 'quick');
console.log(`a task submitted while the job is cancelling is born ${late.state}`);

const report = await cancelling;
console.log(`\njob ${report.jobId}: ${report.state}`);
for (const task of report.tasks) console.log(`  ${task.name.padEnd(20)} ${task.state}`);
console.log(`\nother job untouched: ${bystander.name} ended ${(await bystander.done).state}`);
console.log(`job events: ${events.join(', ')}`);
const invoked = readFileSync(log, 'utf8').trim().split('\n');
console.log(`invoked: ${invoked.map((line) => line.split(' ')[0]).join(', ')}`);
console.log(`never invoked: ${[waiting, late].map((task) => task.name).join(', ')}`);
await runtime.close();
rmSync(dir, { recursive: true, force: true });
