/**
 * Throughput of a trivial task through the full task lifecycle (runtime.submit → DEPLOYING →
 * RUNNING → FINISHED → `done`) on WorkerExecutor with 2 threads and 64 tasks in flight, against
 * piscina and tinypool with 2 threads running the same function with the same concurrency.
 *
 * Rounds alternate ours / piscina / tinypool (the order reverses every round) after one warm-up
 * round each, with a full GC before each measurement; the figures are tasks per second, min /
 * median / max over the rounds. Target: median >= 1.0x piscina.
 *
 *   npm run build && node bench/worker-throughput.js [rounds]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorkerExecutor } from '@taskwarden/executor-local';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';
import { Piscina } from 'piscina';
import { Tinypool } from 'tinypool';
import { alternate, collectGarbage, isMain, keepInFlight, printResult } from './lib/stats.js';

const THREADS = 2;
const IN_FLIGHT = 64;
const TASKS_PER_ROUND = 20_000;
const TARGET = 1.0;

/** Keeps `inFlight` calls of `submit(i)` pending until `total` have completed; returns tasks/s. */
async function drive(submit, total = TASKS_PER_ROUND, inFlight = IN_FLIGHT) {
  collectGarbage(); // each contender starts without the previous one's garbage
  return keepInFlight(total, inFlight, submit);
}

function fixtures() {
  const dir = mkdtempSync(join(tmpdir(), 'taskwarden-bench-'));
  const ours = join(dir, 'trivial-task.mjs');
  const peer = join(dir, 'trivial-peer.mjs');
  writeFileSync(ours, 'export default function trivial({ input }) { return input; }\n');
  writeFileSync(peer, 'export default function trivial(input) { return input; }\n');
  return { dir, ours, peer };
}

function ourRunner(modulePath) {
  const executor = new WorkerExecutor({ maxThreads: THREADS, idleTimeoutMs: Number.POSITIVE_INFINITY });
  const runtime = createRuntime({
    numberOfSlots: 1,
    executors: { worker: executor },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: pino({ level: 'silent' }),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'bench', allocationId: 'bench-slot' });
  runtime.slotTable.markSlotActive('bench-slot');
  const invokable = { module: modulePath };
  const check = (outcome) => {
    if (outcome.state !== 'FINISHED')
      throw new Error(`task ended ${outcome.state}: ${outcome.error?.message}`);
  };
  return {
    run: () =>
      drive((input) =>
        runtime.submit({ jobId: 'bench', allocationId: 'bench-slot', invokable, input }).done.then(check),
      ),
    close: () => runtime.close(),
  };
}

/** Measures; returns the report. */
export async function run({ rounds = 5 } = {}) {
  const files = fixtures();
  const filename = pathToFileURL(files.peer).href;
  const ours = ourRunner(files.ours);
  const piscina = new Piscina({ filename, minThreads: THREADS, maxThreads: THREADS });
  const tinypool = new Tinypool({ filename, minThreads: THREADS, maxThreads: THREADS });
  let stats;
  try {
    stats = await alternate(
      {
        ours: () => ours.run(),
        piscina: () => drive((input) => piscina.run(input)),
        tinypool: () => drive((input) => tinypool.run(input)),
      },
      { rounds },
    );
  } finally {
    await Promise.all([ours.close(), piscina.destroy(), tinypool.destroy()]);
    rmSync(files.dir, { recursive: true, force: true });
  }
  const ratio = Math.round((stats.ours.median / stats.piscina.median) * 100) / 100;
  return {
    name: 'worker-throughput',
    description: `trivial tasks/s, full lifecycle, ${THREADS} threads, ${IN_FLIGHT} in flight, ${TASKS_PER_ROUND.toLocaleString('en-US')} tasks per round`,
    results: [
      {
        metric: `throughput (trivial task, ${THREADS} threads, ${IN_FLIGHT} in flight)`,
        unit: 'tasks/s',
        ours: stats.ours,
        peers: { piscina: stats.piscina, tinypool: stats.tinypool },
        ratio,
        target: `>= ${TARGET}x piscina`,
        met: ratio >= TARGET,
      },
    ],
  };
}

if (isMain(import.meta.url)) {
  const rounds = process.argv[2] ? Number(process.argv[2]) : undefined;
  printResult(await run(rounds ? { rounds } : {}));
}
