// The main demo: one job across all three executors, and what taskwarden does with each task.
//
//   cooperative      worker   listens to its signal                       → CANCELED
//   cpu-bound        worker   for(;;) — deaf and never yields             → thread terminated after the grace period → CANCELED
//   deaf-tree        process  ignores SIGTERM, has a grandchild that does → SIGTERM, then SIGKILL to the whole group → CANCELED
//   finishes-anyway  inline   ignores the request, completes              → FINISHED (cancellationRequested: true)
//   deaf-inline      inline   ignores everything; nothing can stop it     → watchdog: fatal handler, FAILED, abandoned
// plus a duplicate slot request (FLINK-14589) refused without touching the slot table.
//
// Run it with `npm run demo` from the repository root.
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import { createRuntime, DuplicateAllocationError, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';

const taskModule = (name) => ({ module: fileURLToPath(new URL(`../tasks/${name}.mjs`, import.meta.url)) });
const started = performance.now();
const elapsed = () => String(Math.round(performance.now() - started)).padStart(6);
const say = (text) => console.log(`${elapsed()} ms  ${text}`);

const fatalErrorHandler = new EmitOnlyFatalErrorHandler();
const runtime = createRuntime({
  numberOfSlots: 2,
  executors: {
    inline: new InlineExecutor(),
    worker: new WorkerExecutor({ maxThreads: 2 }),
    process: new ProcessExecutor({ maxProcesses: 2, killGraceMs: 500 }),
  },
  // Short timings so the demo ends in a few seconds; the defaults are 30 s / 30 s / 180 s.
  cancellation: { interruptIntervalMs: 500, gracePeriodMs: 1_000, timeoutMs: 3_000 },
  fatalErrorHandler,
  logger: pino({ level: 'silent' }), // the timeline below shows what the log would
});

runtime.events.on('taskStateChanged', ({ task, from, to }) =>
  say(`${task.executor.padEnd(8)} ${task.name.padEnd(16)} ${from} → ${to}`),
);
runtime.events.on('taskStuck', ({ task, elapsedMs, diagnostics }) => {
  const frame = diagnostics
    ?.split('\n')
    .map((line) => line.trim())
    .find((line) => line.startsWith('at ') || line.includes('terminated'));
  const where = frame ? `; stuck ${frame}` : '';
  say(
    `${task.executor.padEnd(8)} ${task.name.padEnd(16)} still running ${elapsedMs} ms after the cancel${where}`,
  );
});
runtime.events.on('fatalError', ({ error }) => say(`fatal error handler called: ${error.name}`));
runtime.events.on('jobStateChanged', ({ jobId, from, to }) => say(`job ${jobId} ${from} → ${to}`));

// Capacity: one slot for the job. A late duplicate request for another slot with the same
// allocation id is refused, and the table stays consistent.
const table = runtime.slotTable;
table.allocateSlot({ index: 0, jobId: 'demo-job', allocationId: 'alloc-1' });
table.markSlotActive('alloc-1');
try {
  table.allocateSlot({ index: 1, jobId: 'demo-job', allocationId: 'alloc-1' });
} catch (error) {
  if (!(error instanceof DuplicateAllocationError)) throw error;
  say(`duplicate slot request refused: ${error.code} (${error.message})`);
}
table.checkInvariants();

const pidFile = join(tmpdir(), `taskwarden-demo-${process.pid}.json`);
const submit = (name, executor, invokable, input) =>
  runtime.submit({
    jobId: 'demo-job',
    allocationId: 'alloc-1',
    name,
    executionId: name,
    executor,
    invokable,
    input,
  });

let deafTimer;
const tasks = [
  submit('cooperative', 'worker', taskModule('cooperative')),
  submit('cpu-bound', 'worker', taskModule('spin')),
  submit('deaf-tree', 'process', taskModule('deaf-tree'), { pidFile }),
  submit('finishes-anyway', 'inline', taskModule('finishes-anyway'), { ms: 1_500 }),
  submit('deaf-inline', 'inline', () => new Promise((resolve) => (deafTimer = setTimeout(resolve, 60_000)))),
];

// Let everything start, then cancel the whole job (Prefect semantics).
while (tasks.some((task) => task.state !== 'RUNNING'))
  await new Promise((resolve) => setTimeout(resolve, 10));
await new Promise((resolve) => setTimeout(resolve, 300));
say('--- cancelling the job ---');
const report = await runtime.cancelJob('demo-job');
clearTimeout(deafTimer); // the abandoned inline work would otherwise keep the demo alive for a minute

const tree = JSON.parse(readFileSync(pidFile, 'utf8'));
rmSync(pidFile, { force: true });
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
};

const outcomes = await Promise.all(tasks.map((task) => task.done));
console.log('\nsummary');
console.table(
  tasks.map((task, i) => ({
    task: task.name,
    executor: task.executor,
    'final state': outcomes[i].state,
    'cancel requested': outcomes[i].cancellationRequested,
    abandoned: outcomes[i].abandoned,
    detail: outcomes[i].result ?? outcomes[i].error?.name ?? '',
  })),
);
console.log(`job report: ${report.state}, ${report.tasks.length} tasks`);
console.log(
  `process tree: child ${tree.child} ${alive(tree.child) ? 'ALIVE' : 'gone'}, grandchild ${tree.grandchild} ${alive(tree.grandchild) ? 'ALIVE' : 'gone'}`,
);
console.log(`runtime health: ${runtime.health} (fatal errors reported: ${fatalErrorHandler.errors.length})`);
await runtime.close();
say(`closed: every thread and process has exited`);
