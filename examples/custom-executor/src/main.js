// A third-party executor plugged into a runtime: three shell scripts, three endings.
// Run: npm start -w @taskwarden/example-custom-executor
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';
import { ShellExecutor } from './shell-executor.js';

const shell = new ShellExecutor({ maxConcurrent: 2 });
const runtime = createRuntime({
  numberOfSlots: 1,
  executors: { shell },
  // Ask (SIGTERM) at once, warn every 500 ms, hard-stop (SIGKILL) after 1 s, give up after 5 s.
  cancellation: { interruptIntervalMs: 500, gracePeriodMs: 1_000, timeoutMs: 5_000 },
  fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
  logger: pino({ level: 'silent' }),
});
runtime.slotTable.allocateSlot({ index: 0, jobId: 'demo', allocationId: 'slot-0' });
runtime.slotTable.markSlotActive('slot-0');
runtime.events.on('taskStuck', ({ task, elapsedMs }) =>
  console.log(`${task.name.padEnd(9)} still running ${elapsedMs} ms after the cancel request`),
);

const workdir = mkdtempSync(join(tmpdir(), 'custom-executor-'));
const submit = (name, input) =>
  runtime.submit({
    jobId: 'demo',
    allocationId: 'slot-0',
    name,
    invokable: { module: fileURLToPath(new URL(`../scripts/${name}.sh`, import.meta.url)) },
    input,
  });
const report = (name, outcome, extra = '') => {
  const { state, result, error } = outcome;
  const what = state === 'FINISHED' ? JSON.stringify(result) : `${error?.name}: ${error?.message}`;
  console.log(`${name.padEnd(9)} ${state.padEnd(9)} ${what}${extra}`);
};
const fileAppears = async (file) => {
  while (!existsSync(file)) await sleep(10);
};

// 1. Succeeds: the JSON on stdout is the result.
report('greet', await submit('greet', { name: 'world' }).done);

// 2. Cancelled gracefully: SIGTERM to its group; its trap cleans up and reports why it stopped.
const partial = join(workdir, 'partial.csv');
const graceful = submit('graceful', { workdir });
await fileAppears(partial);
graceful.cancel();
report('graceful', await graceful.done, ` (partial output left behind: ${existsSync(partial)})`);

// 3. Ignores SIGTERM: after gracePeriodMs the runtime calls kill(), SIGKILL to the whole group.
const stubborn = submit('stubborn', { workdir });
await fileAppears(join(workdir, 'stubborn.ready'));
const cancelledAt = Date.now();
stubborn.cancel();
const outcome = await stubborn.done;
report('stubborn', outcome, ` (hard-stopped ${Date.now() - cancelledAt} ms after the cancel request)`);

await runtime.close();
rmSync(workdir, { recursive: true, force: true });
console.log(`closed; script processes left: ${shell.liveProcesses}`);
