// The main demo: one job across all three executors, and what taskwarden does with each task.
//
//   cooperative      worker   listens to its signal                       → CANCELED
//   cpu-bound        worker   for(;;) — deaf and never yields             → thread terminated after the grace period → CANCELED
//   deaf-tree        process  ignores SIGTERM, has a grandchild that does → SIGTERM, then SIGKILL to the whole group → CANCELED
//   finishes-anyway  inline   ignores the request, completes              → FINISHED (cancellationRequested: true)
//   deaf-inline      inline   ignores everything; nothing can stop it     → watchdog: fatal handler, FAILED, abandoned
// plus a duplicate slot request (FLINK-14589) refused without touching the slot table.
//
// Run it with `npm run demo` from the repository root. With `--inspect` (`npm run demo:inspect`) it
// also starts the inspector page on the runtime, prints its URL, runs the job for a while before
// cancelling it so there is something to watch, and keeps the runtime up until Ctrl-C.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import { startInspector } from '@taskwarden/inspector';
import { createRuntime, DuplicateAllocationError, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';

// `--inspect` or `--inspect=PORT` (any free port by default).
const inspectFlag = process.argv.slice(2).find((arg) => arg === '--inspect' || arg.startsWith('--inspect='));
const inspect = inspectFlag !== undefined;
const inspectPort = inspectFlag?.includes('=') ? Number(inspectFlag.split('=')[1]) : 0;
// With the inspector, the job runs this long before it is cancelled: time to open the page.
const HOLD_MS = inspect ? 15_000 : 300;

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

let deafTimer;
let stopping = false;
if (inspect) {
  const token = randomBytes(18).toString('base64url');
  const inspector = await startInspector(runtime, { port: inspectPort, token });
  // The token travels in the fragment, which the browser never sends to the server.
  console.log(`inspector: ${inspector.url}#token=${token}`);
  console.log('(the token in the link enables the cancel buttons; Ctrl-C stops the demo)');
  const stop = async () => {
    if (stopping) process.exit(130); // a second Ctrl-C: leave at once
    stopping = true;
    say('stopping: closing the inspector and the runtime');
    clearTimeout(deafTimer);
    await inspector.close();
    await runtime.close({ graceMs: 0 });
    say('closed: every thread and process has exited');
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
/** Resolves after `ms`, or never once Ctrl-C is stopping the demo (stop() exits the process). */
const pause = (ms) =>
  new Promise((resolve) => {
    const check = () => (stopping ? undefined : resolve());
    setTimeout(check, ms);
  });

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

const tasks = [
  submit('cooperative', 'worker', taskModule('cooperative')),
  submit('cpu-bound', 'worker', taskModule('spin')),
  submit('deaf-tree', 'process', taskModule('deaf-tree'), { pidFile }),
  submit('finishes-anyway', 'inline', taskModule('finishes-anyway'), { ms: HOLD_MS + 1_200 }),
  submit('deaf-inline', 'inline', () => new Promise((resolve) => (deafTimer = setTimeout(resolve, 60_000)))),
];
if (inspect) {
  // Something for the progress bar: a cooperative inline task that counts towards the cancel.
  tasks.push(
    submit('progress', 'inline', (ctx) => {
      const started = Date.now();
      return new Promise((_resolve, reject) => {
        const ticker = setInterval(
          () => ctx.reportProgress(Math.min(1, (Date.now() - started) / HOLD_MS)),
          200,
        );
        ctx.signal.addEventListener('abort', () => {
          clearInterval(ticker);
          reject(ctx.signal.reason);
        });
      });
    }),
  );
}

// Let everything start, then cancel the whole job (Prefect semantics).
// (Still starting: with --inspect a task may already have been cancelled from the page.)
const starting = ['CREATED', 'DEPLOYING', 'INITIALIZING'];
while (tasks.some((task) => starting.includes(task.state))) await pause(10);
await pause(HOLD_MS);
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
if (inspect) {
  // The runtime stays up so the page can still be looked at; Ctrl-C closes everything (see stop()).
  console.log('the runtime stays up for the inspector: Ctrl-C to exit');
} else {
  await runtime.close();
  say(`closed: every thread and process has exited`);
}
