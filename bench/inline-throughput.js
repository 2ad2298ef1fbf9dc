// No-op tasks per second through the full task lifecycle on the inline executor, 64 in flight,
// against p-queue with concurrency 64 running the same no-op function.
import { InlineExecutor } from '@taskwarden/executor-local';
import { createDefaultLogger, createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import PQueue from 'p-queue';
import pino from 'pino';
import { alternate, isMain, pairedRatio, printResult } from './lib/stats.js';

const TASKS = 100_000;
const IN_FLIGHT = 64;
const noop = () => undefined;

async function ours(logger, transitionLogLevel = 'info') {
  const runtime = createRuntime({
    numberOfSlots: 1,
    executors: { inline: new InlineExecutor() },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger,
    transitionLogLevel,
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'bench', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  const descriptor = { jobId: 'bench', allocationId: 'slot', invokable: noop };
  const started = performance.now();
  let submitted = 0;
  const lane = async () => {
    while (submitted < TASKS) {
      submitted++;
      await runtime.submit(descriptor).done;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const elapsed = performance.now() - started;
  await runtime.close();
  return (TASKS / elapsed) * 1000;
}

async function pQueue() {
  const queue = new PQueue({ concurrency: IN_FLIGHT });
  const started = performance.now();
  let submitted = 0;
  const lane = async () => {
    while (submitted < TASKS) {
      submitted++;
      await queue.add(noop);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return (TASKS / (performance.now() - started)) * 1000;
}

export async function run({ rounds = 5 } = {}) {
  // The default logger (level warn) logs nothing for healthy tasks; an embedding service at info
  // pays for four transition lines per task unless it moves them to debug (transitionLogLevel).
  const atInfo = () => pino({ level: 'info' }, { write() {} });
  const stats = await alternate(
    {
      ours: () => ours(createDefaultLogger()),
      oursInfo: () => ours(atInfo()),
      oursInfoDebugTransitions: () => ours(atInfo(), 'debug'),
      pQueue,
    },
    // Rounds take a fraction of a second: five times the harness's, and the ratio is the median of
    // the rounds' ratios (each pair measured back to back), which cancels the machine's drift.
    { rounds: rounds * 5 },
  );
  const ratio = pairedRatio(stats.ours, stats.pQueue);
  const peers = { 'p-queue': stats.pQueue };
  return {
    name: 'inline-throughput',
    description: `no-op tasks/s, full lifecycle, ${IN_FLIGHT} in flight, ${TASKS.toLocaleString('en-US')} tasks per round, ${rounds * 5} rounds, ratio = median of per-round ratios`,
    results: [
      {
        metric: 'tasks/s, default logger',
        unit: 'tasks/s',
        ours: stats.ours,
        peers,
        ratio,
        target: '>= 1.24x p-queue (no regression)',
        met: ratio >= 1.24,
      },
      {
        metric: 'tasks/s, logger at info (transitions logged)',
        unit: 'tasks/s',
        ours: stats.oursInfo,
        peers,
        ratio: pairedRatio(stats.oursInfo, stats.pQueue),
      },
      {
        metric: "tasks/s, logger at info, transitionLogLevel: 'debug'",
        unit: 'tasks/s',
        ours: stats.oursInfoDebugTransitions,
        peers,
        ratio: pairedRatio(stats.oursInfoDebugTransitions, stats.pQueue),
      },
    ],
  };
}

if (isMain(import.meta.url)) printResult(await run());
