// What the cancellation ladder does with work that will not stop.
//   crunch-numbers  spins in JS:         stuck warnings with its stack, then the hard stop
//                                         terminates its thread → CANCELED
//   native-wait     blocked in a native call the thread cannot be terminated out of:
//                                         stuck warnings, a hard stop that cannot take effect,
//                                         then the watchdog gives up → fatal handler, FAILED, abandoned
// Run: npm start -w @taskwarden/example-stuck-task
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkerExecutor } from '@taskwarden/executor-local';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';

const stuck = (exportName) => ({
  module: fileURLToPath(new URL('../tasks/stuck.mjs', import.meta.url)),
  export: exportName,
});
const started = performance.now();
const say = (text) =>
  console.log(`${String(Math.round(performance.now() - started)).padStart(5)} ms  ${text}`);

// The warnings go to this logger, as in production; here each one is printed as a short line.
const logger = pino(
  { level: 'warn' },
  {
    write(line) {
      const { msg, task, level } = JSON.parse(line);
      const [first, ...stack] = msg.split('\n');
      say(`[${level >= 60 ? 'FATAL' : 'WARN'}] ${task ?? ''}: ${first}`);
      for (const frame of stack.slice(0, 3)) console.log(`           ${frame.trim()}`);
    },
  },
);

const fatalErrorHandler = new EmitOnlyFatalErrorHandler();
const runtime = createRuntime({
  numberOfSlots: 1,
  executors: { worker: new WorkerExecutor({ maxThreads: 2 }) },
  cancellation: { interruptIntervalMs: 700, gracePeriodMs: 1_500, timeoutMs: 3_000 },
  fatalErrorHandler,
  logger,
});
runtime.events.on('taskStateChanged', ({ task, from, to }) => say(`${task.name}: ${from} → ${to}`));
runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
runtime.slotTable.markSlotActive('slot');

const crunch = runtime.submit({
  jobId: 'job',
  allocationId: 'slot',
  name: 'crunch-numbers',
  invokable: stuck('crunchNumbers'),
});
// The native call waits for a writer on this FIFO; nobody writes until the end.
const dir = mkdtempSync(join(tmpdir(), 'stuck-task-'));
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);
const native = runtime.submit({
  jobId: 'job',
  allocationId: 'slot',
  name: 'native-wait',
  invokable: stuck('waitOnNativeCall'),
  input: { fifo },
});
while (crunch.state !== 'RUNNING' || native.state !== 'RUNNING') await new Promise((r) => setTimeout(r, 10));
await new Promise((resolve) => setTimeout(resolve, 100));
say('cancelling both');
crunch.cancel();
native.cancel();

for (const task of [crunch, native]) {
  const outcome = await task.done;
  say(`${task.name} ended ${outcome.state}${outcome.abandoned ? ' (abandoned by the watchdog)' : ''}`);
}
say(
  `fatal handler calls: ${fatalErrorHandler.errors.map((error) => error.name).join(', ')}; health: ${runtime.health}`,
);
writeFileSync(fifo, ''); // the native call returns at last
await runtime.close(); // waits for the blocked thread to come out of its native call and exit
rmSync(dir, { recursive: true, force: true });
say('closed: both threads have exited');
