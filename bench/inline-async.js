/**
 * What a new user runs on the inline executor: an invokable OBJECT with an async `invoke`, a NEW
 * descriptor with its own `input` for every task, the result checked, 64 tasks in flight, the
 * runtime's defaults (default logger, default fatal handler). The peer is p-queue (concurrency 64)
 * running the same async function on the same input, its result checked the same way.
 *
 * One runtime and one queue serve every round, as in a service. Rounds alternate ours / p-queue
 * (the order reverses every round) after a warm-up round; a round takes a fraction of a second, so
 * there are five times the harness's rounds. The ratio is the
 * median of the rounds' ratios (each pair measured back to back). Target: >= 1.2x p-queue.
 *
 *   npm run build && node bench/inline-async.js
 */
import { InlineExecutor } from '@taskwarden/executor-local';
import { createRuntime } from '@taskwarden/sdk';
import PQueue from 'p-queue';
import { alternate, isMain, pairedRatio, printResult, runLanes } from './lib/stats.js';

const TASKS = 100_000;
const IN_FLIGHT = 64;
const TARGET = 1.2;

/** The user's task: defined once, like any module-level invokable. */
const addOne = { invoke: async (ctx) => ctx.input + 1 };

function check(result, input) {
  if (result !== input + 1) throw new Error(`wrong result ${result} for input ${input}`);
}

/**
 * Our side, as a service runs it: one runtime with defaults for the whole benchmark (made and closed
 * outside the timed rounds), one ACTIVE slot, 64 lanes submitting new descriptors.
 */
function oursOn(runtime) {
  return () =>
    runLanes(TASKS, IN_FLIGHT, async (input) => {
      const task = runtime.submit({ jobId: 'bench', allocationId: 'slot', invokable: addOne, input });
      const outcome = await task.done;
      if (outcome.state !== 'FINISHED') throw new Error(`task ended ${outcome.state}`);
      check(outcome.result, input);
    });
}

/** The peer: one p-queue with the same concurrency, running the same async function on the same input. */
function pQueueOn(queue) {
  return () =>
    runLanes(TASKS, IN_FLIGHT, async (input) => {
      const result = await queue.add(() => addOne.invoke({ input }));
      check(result, input);
    });
}

export async function run({ rounds = 5 } = {}) {
  const runtime = createRuntime({ numberOfSlots: 1, executors: { inline: new InlineExecutor() } });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'bench', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  const queue = new PQueue({ concurrency: IN_FLIGHT });
  const stats = await alternate({ ours: oursOn(runtime), pQueue: pQueueOn(queue) }, { rounds: rounds * 5 });
  await runtime.close();
  const ratio = pairedRatio(stats.ours, stats.pQueue);
  return {
    name: 'inline-async',
    description: `async invokable object, new descriptor + input per task, result checked, ${IN_FLIGHT} in flight, default logger, ${TASKS.toLocaleString('en-US')} tasks per round, ${rounds * 5} rounds, ratio = median of per-round ratios`,
    results: [
      {
        metric: 'tasks/s, async invokable object, new descriptor per task, default logger',
        unit: 'tasks/s',
        ours: stats.ours,
        peers: { 'p-queue': stats.pQueue },
        ratio,
        target: `>= ${TARGET}x p-queue`,
        met: ratio >= TARGET,
      },
    ],
  };
}

if (isMain(import.meta.url)) printResult(await run());
