// The main demo: three inline tasks in one job, and what the runtime does with each.
//   - "finishes":    returns a value                              → FINISHED
//   - "cooperative": listens to its AbortSignal, then is cancelled → CANCELED
//   - "deaf":        ignores cancellation entirely                → the watchdog gives up on it:
//                    fatal handler called, task FAILED, `abandoned: true`
// Run it with `npm run demo` from the repository root.

import { InlineExecutor } from '@taskwarden/executor-local';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';

const started = performance.now();
const elapsed = () => String(Math.round(performance.now() - started)).padStart(5);

const fatalErrorHandler = new EmitOnlyFatalErrorHandler();
const runtime = createRuntime({
  numberOfSlots: 1,
  executors: { inline: new InlineExecutor() },
  // Short timings so the demo ends in about a second; the defaults are 30 s / 30 s / 180 s.
  cancellation: { interruptIntervalMs: 250, gracePeriodMs: 500, timeoutMs: 1_000 },
  fatalErrorHandler,
  // The timeline below shows what the log would; pass a pino logger at 'info' to see every line.
  logger: pino({ level: 'silent' }),
});

runtime.events.on('taskStateChanged', ({ task, from, to }) => {
  console.log(`${elapsed()} ms  ${task.name.padEnd(12)} ${from} → ${to}`);
});
runtime.events.on('taskStuck', ({ task, elapsedMs }) => {
  console.log(
    `${elapsed()} ms  ${task.name.padEnd(12)} still running ${elapsedMs} ms after the cancel request`,
  );
});
runtime.events.on('fatalError', ({ error }) => {
  console.log(`${elapsed()} ms  fatal error reported: ${error.message}`);
});

runtime.slotTable.allocateSlot({ index: 0, jobId: 'demo-job', allocationId: 'slot-0' });
runtime.slotTable.markSlotActive('slot-0');
const submit = (name, invokable) =>
  runtime.submit({ jobId: 'demo-job', allocationId: 'slot-0', name, executionId: name, invokable });

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

const finishes = submit('finishes', async () => {
  await sleep(50);
  return 'the answer is 42';
});
const cooperative = submit('cooperative', ({ signal }) => sleep(60_000, signal));
// Ignores its signal; a timer stands in for work that will not stop.
let deafTimer;
const deaf = submit('deaf', () => new Promise((resolve) => (deafTimer = setTimeout(resolve, 60_000))));

await sleep(100);
console.log(`${elapsed()} ms  -- cancelling "cooperative" and "deaf" --`);
cooperative.cancel();
deaf.cancel();

const outcomes = await Promise.all(
  [finishes, cooperative, deaf].map(async (task) => [task.name, await task.done]),
);
clearTimeout(deafTimer); // the abandoned work would otherwise keep the demo alive for a minute

console.log('\nsummary');
console.table(
  outcomes.map(([name, outcome]) => ({
    task: name,
    state: outcome.state,
    cancellationRequested: outcome.cancellationRequested,
    abandoned: outcome.abandoned,
    detail: outcome.result ?? outcome.error?.message ?? '',
  })),
);
console.log(`runtime health: ${runtime.health} (fatal errors reported: ${fatalErrorHandler.errors.length})`);
await runtime.close();
console.log(`closed after ${elapsed().trim()} ms`);
