/**
 * Cancellation latency on WorkerExecutor against piscina's abort (an AbortController signal passed
 * to `piscina.run`), one thread each, for two tasks:
 *
 * - cooperative: waits on its signal (piscina's task just waits: piscina never tells the worker);
 * - CPU-bound: `for (;;) {}`, which only terminating the thread stops.
 *
 * Three times per cancel, measured from the cancel request (`task.cancel()` / `controller.abort()`):
 *
 * - settled: the caller's promise settles (`task.done` / the rejection of `piscina.run`);
 * - stopped: the work is confirmed stopped — piscina: its worker thread emitted 'exit'; ours: the
 *   runner reported the task ended (cooperative; the thread is kept) or the thread exited (hard
 *   stop; `done` waits for that, so it equals settled);
 * - next done: a trivial task submitted right after the cancel has finished (recovery).
 *
 * Ours cancels cooperatively first by design (the ladder's hard stop comes after `gracePeriodMs`,
 * 30 s by default); the CPU-bound case runs with `gracePeriodMs: 0`, the equivalent of piscina's
 * immediate abort: the signal is aborted and the thread terminated in the same call, no timer in
 * between, so it measures the hard stop itself. Lower is better; ratio = ours / piscina (medians).
 *
 * Reading the CPU-bound rows: piscina rejects `run` as soon as it is aborted, while the thread is
 * still dying; our `task.done` resolves only once the thread has exited (the work is stopped for
 * real, and the task's slot is free), so "settled" equals "stopped" for us and is compared with an
 * earlier event on piscina's side. The comparable figures are "stopped" and "next done". A
 * terminated thread counts against `maxThreads` until its 'exit' (ours; piscina starts its
 * replacement at once, while the old thread is still dying); then a fresh thread boots for the next
 * task, so "next done" is mostly Node's worker start-up (~19 ms here). Ours then loads the next
 * task's module with a synchronous `require()` (see `requireEsModule` in
 * `@taskwarden/sdk/internal`), ~3 ms sooner than a fresh thread's first `import()`: that is what
 * makes up for starting the replacement only after the old thread's 'exit' (~2 ms later than piscina).
 *
 *   npm run build && node bench/worker-cancel-latency.js [rounds]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorkerExecutor } from '@taskwarden/executor-local';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';
import { Piscina } from 'piscina';
import { alternate, isMain, printResult } from './lib/stats.js';

const SAMPLES_PER_ROUND = 5;

function fixtures() {
  const dir = mkdtempSync(join(tmpdir(), 'taskwarden-bench-cancel-'));
  const ours = join(dir, 'ours.mjs');
  const peer = join(dir, 'peer.mjs');
  writeFileSync(
    ours,
    `export default ({ input }) => input;
export function cooperative({ input, signal }) {
  Atomics.store(input.flag, 0, 1);
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
}
export function busy({ input }) {
  Atomics.store(input.flag, 0, 1);
  for (;;) {}
}
`,
  );
  writeFileSync(
    peer,
    `export default (input) => input;
export function cooperative(input) {
  Atomics.store(input.flag, 0, 1);
  return new Promise(() => {});
}
export function busy(input) {
  Atomics.store(input.flag, 0, 1);
  for (;;) {}
}
`,
  );
  return { dir, ours, peer };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate) {
  while (!predicate()) await sleep(1);
}

function newFlag() {
  return new Int32Array(new SharedArrayBuffer(4));
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One runtime over a one-thread WorkerExecutor; `measure(kind)` cancels one task and times it. */
function ourContender(module) {
  const executor = new WorkerExecutor({ maxThreads: 1, idleTimeoutMs: Number.POSITIVE_INFINITY });
  const runtime = createRuntime({
    numberOfSlots: 1,
    executors: { worker: executor },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: pino({ level: 'silent' }),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'bench', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  const timings = {
    cooperative: { interruptIntervalMs: 10_000, gracePeriodMs: 5_000, timeoutMs: 20_000 },
    busy: { interruptIntervalMs: 10_000, gracePeriodMs: 0, timeoutMs: 20_000 },
  };
  const submit = (name, input, cancellation) =>
    runtime.submit({
      jobId: 'bench',
      allocationId: 'slot',
      invokable: name === 'default' ? { module } : { module, export: name },
      input,
      ...(cancellation ? { cancellation } : {}),
    });
  return {
    async measure(kind) {
      const flag = newFlag();
      const task = submit(kind, { flag }, timings[kind]);
      await until(() => Atomics.load(flag, 0) === 1 && task.state === 'RUNNING');
      const t0 = performance.now();
      let settled = 0;
      let stopped = 0;
      let next = 0;
      task.cancel();
      const nextTask = submit('default', 1);
      await Promise.all([
        task.done.then((outcome) => {
          if (outcome.state !== 'CANCELED') throw new Error(`cancelled task ended ${outcome.state}`);
          settled = performance.now() - t0;
          stopped = settled; // done resolves only once the work has stopped (thread exited, for a hard stop)
        }),
        nextTask.done.then((outcome) => {
          if (outcome.state !== 'FINISHED') throw new Error(`next task ended ${outcome.state}`);
          next = performance.now() - t0;
        }),
      ]);
      return { settled, stopped, next };
    },
    close: () => runtime.close(),
  };
}

function piscinaContender(filename) {
  const pool = new Piscina({ filename, minThreads: 1, maxThreads: 1 });
  return {
    async measure(kind) {
      const flag = newFlag();
      const controller = new AbortController();
      const running = pool.run({ flag }, { name: kind, signal: controller.signal });
      await until(() => Atomics.load(flag, 0) === 1);
      const [worker] = pool.threads; // the one thread, running the task
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      const t0 = performance.now();
      let settled = 0;
      let stopped = 0;
      let next = 0;
      controller.abort();
      const nextRun = pool.run(1);
      await Promise.all([
        running.then(
          () => {
            throw new Error('the aborted task resolved');
          },
          () => {
            settled = performance.now() - t0;
          },
        ),
        exited.then(() => {
          stopped = performance.now() - t0;
        }),
        nextRun.then(() => {
          next = performance.now() - t0;
        }),
      ]);
      return { settled, stopped, next };
    },
    close: () => pool.destroy(),
  };
}

/** SAMPLES_PER_ROUND cancels; the median of each time. */
async function sample(contender, kind) {
  const runs = [];
  for (let i = 0; i < SAMPLES_PER_ROUND; i++) runs.push(await contender.measure(kind));
  return {
    settled: median(runs.map((run) => run.settled)),
    stopped: median(runs.map((run) => run.stopped)),
    next: median(runs.map((run) => run.next)),
  };
}

const METRICS = [
  ['settled', 'promise settled'],
  ['stopped', 'work confirmed stopped'],
  ['next', 'next task done'],
];

/** Measures; returns the report. */
export async function run({ rounds = 5 } = {}) {
  const files = fixtures();
  const ours = ourContender(files.ours);
  const peer = piscinaContender(pathToFileURL(files.peer).href);
  const results = [];
  try {
    for (const [kind, label] of [
      ['cooperative', 'cooperative task'],
      ['busy', 'CPU-bound for(;;) task'],
    ]) {
      // `alternate` wants one number per call; keep the three times per round aside.
      const rows = { ours: [], piscina: [] };
      await alternate(
        {
          ours: async () => {
            const times = await sample(ours, kind);
            rows.ours.push(times);
            return times.settled;
          },
          piscina: async () => {
            const times = await sample(peer, kind);
            rows.piscina.push(times);
            return times.settled;
          },
        },
        { rounds },
      );
      for (const [key, name] of METRICS) {
        // The first entry of each list is the warm-up round.
        const summary = (list) => summarize(list.slice(1).map((times) => times[key]));
        const oursSummary = summary(rows.ours);
        const peerSummary = summary(rows.piscina);
        results.push({
          metric: `${label}: ${name}`,
          unit: 'ms',
          ours: oursSummary,
          peers: { piscina: peerSummary },
          ratio: round2(oursSummary.median / peerSummary.median),
          // Issue 8: no worse than piscina on each. (Our CPU-bound "settled" cannot be: see above.)
          target: '<= 1.0x',
          met: oursSummary.median <= peerSummary.median,
        });
      }
    }
  } finally {
    await Promise.all([ours.close(), peer.close()]);
    rmSync(files.dir, { recursive: true, force: true });
  }
  return {
    name: 'worker-cancel-latency',
    description: `cancel → settled / stopped / next task done, 1 thread, ${SAMPLES_PER_ROUND} cancels per round (median), lower is better`,
    results,
  };
}

function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: round2(sorted[0]), median: round2(median(sorted)), max: round2(sorted.at(-1)) };
}

function round2(value) {
  return Math.round(value * 100) / 100;
}

if (isMain(import.meta.url)) {
  const rounds = process.argv[2] ? Number(process.argv[2]) : undefined;
  printResult(await run(rounds ? { rounds } : {}));
}
