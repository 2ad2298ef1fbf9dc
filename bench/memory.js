// Heap growth after 100,000 tasks through the full lifecycle (inline executor), with a forced GC
// before each reading. Target: within 5 MB. Run with --expose-gc (the harness re-executes itself).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InlineExecutor } from '@taskwarden/executor-local';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';
import { isMain, printResult, summarize } from './lib/stats.js';

const TASKS = 100_000;
const MB = 1024 * 1024;

async function measureOnce() {
  const runtime = createRuntime({
    numberOfSlots: 4,
    executors: { inline: new InlineExecutor() },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: pino({ level: 'silent' }),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'memory', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  const batch = async (count) => {
    let submitted = 0;
    const lane = async () => {
      while (submitted < count) {
        const n = submitted++;
        const task = runtime.submit({
          jobId: 'memory',
          allocationId: 'slot',
          input: n,
          invokable: ({ input, signal }) => (input % 10 === 0 ? signal.aborted : input),
        });
        if (n % 7 === 0) task.cancel();
        await task.done;
      }
    };
    await Promise.all(Array.from({ length: 64 }, lane));
  };
  await batch(10_000); // warm up: compiled code, pools, caches
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  await batch(TASKS);
  globalThis.gc();
  const after = process.memoryUsage().heapUsed;
  await runtime.close();
  return (after - before) / MB;
}

export async function run({ rounds = 5 } = {}) {
  if (typeof globalThis.gc !== 'function') {
    // Measure in a child with --expose-gc, so the harness itself needs no flags.
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), '--json', `--rounds=${rounds}`],
      {
        encoding: 'utf8',
      },
    );
    if (child.status !== 0) throw new Error(`memory benchmark failed: ${child.stderr}`);
    return JSON.parse(child.stdout.trim().split('\n').pop());
  }
  const samples = [];
  for (let i = 0; i < rounds; i++) samples.push(await measureOnce());
  const ours = summarize(samples);
  return {
    name: 'memory',
    description: `heap after ${TASKS.toLocaleString('en-US')} tasks vs before (MB), forced GC`,
    results: [{ metric: 'heap growth', unit: 'MB', ours, target: '<= 5 MB', met: ours.median <= 5 }],
  };
}

if (isMain(import.meta.url)) {
  const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.split('=')[1] ?? 3);
  const result = await run({ rounds });
  if (process.argv.includes('--json')) console.log(JSON.stringify(result));
  else printResult(result);
}
