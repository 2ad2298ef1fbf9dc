/**
 * What the OpenTelemetry instrumentation costs the inline hot path when no OpenTelemetry SDK is
 * registered (the API loaded, as it always is: the SDK depends on it). Side by side in one process:
 * this checkout's runtime against a baseline build without the instrumentation (a checkout of the
 * commit before it), on the two inline workloads of the Performance table:
 *
 * - async: an invokable object with an async `invoke`, a new descriptor and input per task, the
 *   result checked, 64 in flight, default logger (as bench/inline-async.js);
 * - sync: a synchronous no-op function, 64 in flight, default logger (as bench/inline-throughput.js).
 *
 * Target (issue 18): within 5% of the baseline (ratio >= 0.95), each. Without a baseline the
 * benchmark says how to make one and reports nothing.
 *
 *   git worktree add /tmp/tw-base <commit before the instrumentation> && (cd /tmp/tw-base && npm ci && npm run build)
 *   npm run build && node bench/telemetry-overhead.js --baseline=/tmp/tw-base
 *   (or TASKWARDEN_BASELINE=/tmp/tw-base npm run bench -- telemetry-overhead)
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { alternate, isMain, pairedRatio, printResult, runLanes } from './lib/stats.js';

const TASKS = 100_000;
const IN_FLIGHT = 64;
const TARGET = 0.95;

const addOne = { invoke: async (ctx) => ctx.input + 1 };
const noop = () => undefined;

async function load(root) {
  const sdk = await import(pathToFileURL(join(root, 'packages/sdk/dist/index.js')).href);
  const local = await import(pathToFileURL(join(root, 'packages/executor-local/dist/index.js')).href);
  const runtime = sdk.createRuntime({ numberOfSlots: 1, executors: { inline: new local.InlineExecutor() } });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'bench', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  return runtime;
}

function workload(runtime, kind) {
  return () =>
    runLanes(TASKS, IN_FLIGHT, async (input) => {
      const task =
        kind === 'async'
          ? runtime.submit({ jobId: 'bench', allocationId: 'slot', invokable: addOne, input })
          : runtime.submit({ jobId: 'bench', allocationId: 'slot', invokable: noop });
      const outcome = await task.done;
      if (outcome.state !== 'FINISHED') throw new Error(`task ended ${outcome.state}`);
      if (kind === 'async' && outcome.result !== input + 1) throw new Error('wrong result');
    });
}

function baselineDir() {
  const flag = process.argv.find((arg) => arg.startsWith('--baseline='))?.split('=')[1];
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: a benchmark option, not read by any turbo task.
  return flag ?? process.env.TASKWARDEN_BASELINE;
}

export async function run({ rounds = 5 } = {}) {
  const baseline = baselineDir();
  if (!baseline || !existsSync(join(baseline, 'packages/sdk/dist/index.js'))) {
    console.error(
      'telemetry-overhead: no baseline build. Make one from the commit before the OpenTelemetry ' +
        'instrumentation (git worktree add /tmp/tw-base <commit> && cd /tmp/tw-base && npm ci && npm run build) ' +
        'and pass --baseline=/tmp/tw-base (or TASKWARDEN_BASELINE).',
    );
    return { name: 'telemetry-overhead', description: 'skipped: no baseline build', results: [] };
  }
  const here = resolve(new URL('..', import.meta.url).pathname);
  const [ours, base] = await Promise.all([load(here), load(resolve(baseline))]);
  const results = [];
  for (const kind of ['async', 'sync']) {
    const stats = await alternate(
      { instrumented: workload(ours, kind), baseline: workload(base, kind) },
      { rounds: rounds * 5 },
    );
    const ratio = pairedRatio(stats.instrumented, stats.baseline);
    results.push({
      metric: `inline ${kind}, OpenTelemetry API loaded, no SDK registered`,
      unit: 'tasks/s',
      ours: stats.instrumented,
      peers: { 'without instrumentation': stats.baseline },
      ratio,
      target: `>= ${TARGET}x the build without instrumentation`,
      met: ratio >= TARGET,
    });
  }
  await Promise.all([ours.close(), base.close()]);
  return {
    name: 'telemetry-overhead',
    description: `inline tasks/s with the instrumentation (no SDK registered) vs a build without it, ${IN_FLIGHT} in flight, ${TASKS.toLocaleString('en-US')} tasks per round, ${rounds * 5} rounds, ratio = median of per-round ratios`,
    results,
  };
}

if (isMain(import.meta.url)) printResult(await run());
