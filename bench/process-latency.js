/**
 * Submit-to-result latency of a trivial task on ProcessExecutor (runtime.submit → `done`, one task
 * at a time), against a bare `child_process.fork` of a trivial script plus one IPC round trip
 * (advanced serialization) — the least any process-per-task executor must pay. Without `reuse`
 * every task gets a fresh child and `done` waits until that child and its group are gone; with
 * `reuse` the child stays and later tasks skip the spawn.
 *
 * A third contender, "fork + import @taskwarden/sdk/internal", is the bare fork plus an ES module
 * import of the SDK helpers our child runner needs before it can load a task: what they would cost
 * a fresh process unbundled. (The runner ships as one CommonJS bundle that includes them, which
 * costs a fresh process far less; see the executor-process README, "Start-up".)
 *
 * Targets: fresh process <= 1.1x the bare fork; with reuse >= 10x faster than without.
 * Each round measures SAMPLES tasks per contender and keeps their median; contenders alternate
 * (the order reverses every round) after one warm-up round.
 *
 *   npm run build && node bench/process-latency.js [rounds]
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessExecutor } from '@taskwarden/executor-process';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';
import { alternate, isMain, printResult, summarize } from './lib/stats.js';

const SAMPLES = { spawn: 8, reuse: 60 };
const TARGET_FRESH = 1.1;
const TARGET_REUSE = 10;

function fixtures() {
  const dir = mkdtempSync(join(tmpdir(), 'taskwarden-bench-process-'));
  const task = join(dir, 'trivial-task.mjs');
  const peer = join(dir, 'trivial-peer.mjs');
  const peerWithSdk = join(dir, 'trivial-peer-sdk.mjs');
  writeFileSync(task, 'export default function trivial({ input }) { return input; }\n');
  writeFileSync(peer, "process.on('message', (input) => process.send(input));\n");
  // Resolved from the repository, where this benchmark runs.
  const internal = import.meta.resolve('@taskwarden/sdk/internal');
  writeFileSync(
    peerWithSdk,
    `await import(${JSON.stringify(internal)});\n` +
      "process.on('message', (input) => process.send(input));\n",
  );
  return { dir, task, peer, peerWithSdk };
}

function runtimeWith(executor) {
  const runtime = createRuntime({
    numberOfSlots: 1,
    executors: { process: executor },
    defaultExecutor: 'process',
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: pino({ level: 'silent' }),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'bench', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  return runtime;
}

/** Median latency (ms) of `samples` sequential calls of `once`. */
async function medianOf(samples, once) {
  const values = [];
  for (let i = 0; i < samples; i++) values.push(await once(i));
  return summarize(values).median;
}

function ours(runtime, module) {
  return async (i) => {
    const t0 = performance.now();
    const outcome = await runtime.submit({
      jobId: 'bench',
      allocationId: 'slot',
      invokable: { module },
      input: i,
    }).done;
    const elapsed = performance.now() - t0;
    if (outcome.state !== 'FINISHED' || outcome.result !== i)
      throw new Error(`unexpected outcome ${outcome.state}`);
    return elapsed;
  };
}

function bareFork(script) {
  return async (i) => {
    const t0 = performance.now();
    const child = fork(script, [], { serialization: 'advanced', execArgv: [], stdio: 'ignore' });
    child.send(i);
    const reply = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('error', reject);
    });
    const elapsed = performance.now() - t0;
    if (reply !== i) throw new Error('unexpected reply');
    // Not timed: the peer's child is stopped before the next sample, as ours is.
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    return elapsed;
  };
}

/**
 * @param {{ rounds?: number }} [options]
 */
export async function run({ rounds = 5 } = {}) {
  const files = fixtures();
  const fresh = new ProcessExecutor();
  const reused = new ProcessExecutor({ reuse: true, maxProcesses: 1 });
  const freshRuntime = runtimeWith(fresh);
  const reusedRuntime = runtimeWith(reused);
  try {
    const stats = await alternate(
      {
        fresh: () => medianOf(SAMPLES.spawn, ours(freshRuntime, files.task)),
        fork: () => medianOf(SAMPLES.spawn, bareFork(files.peer)),
        forkSdk: () => medianOf(SAMPLES.spawn, bareFork(files.peerWithSdk)),
        reuse: () => medianOf(SAMPLES.reuse, ours(reusedRuntime, files.task)),
      },
      { rounds, warmup: 1 },
    );
    const freshRatio = stats.fresh.median / stats.fork.median;
    const reuseSpeedup = stats.fresh.median / stats.reuse.median;
    return {
      name: 'process-latency',
      description: `submit-to-result latency of a trivial task, median of ${SAMPLES.spawn} (fresh) / ${SAMPLES.reuse} (reuse) tasks per round`,
      results: [
        {
          metric: 'fresh process per task vs fork + 1 IPC round trip',
          unit: 'ms',
          ours: stats.fresh,
          peers: {
            'child_process.fork': stats.fork,
            'fork + import @taskwarden/sdk/internal': stats.forkSdk,
          },
          ratio: freshRatio,
          target: `<= ${TARGET_FRESH}x`,
          met: freshRatio <= TARGET_FRESH,
        },
        {
          metric: 'executor overhead beyond the SDK import (fresh vs fork + sdk/internal import)',
          unit: 'ms',
          ours: stats.fresh,
          peers: { 'fork + import @taskwarden/sdk/internal': stats.forkSdk },
          ratio: stats.fresh.median / stats.forkSdk.median,
        },
        {
          metric: 'reuse: a kept process vs a fresh one (speed-up)',
          unit: 'ms',
          ours: stats.reuse,
          peers: { 'ProcessExecutor (fresh)': stats.fresh },
          ratio: reuseSpeedup,
          target: `>= ${TARGET_REUSE}x faster`,
          met: reuseSpeedup >= TARGET_REUSE,
        },
      ],
    };
  } finally {
    await Promise.all([freshRuntime.close(), reusedRuntime.close()]);
    rmSync(files.dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const rounds = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  printResult(await run(rounds === undefined ? {} : { rounds }));
}
