/**
 * Cancellation storm (issue 9): 1,000 tasks per executor (inline, worker, process with `reuse`),
 * each cancelled at a random moment — before it starts (CREATED), while DEPLOYING, while RUNNING —
 * or never, from inside the `taskStateChanged` listener, a microtask, a macrotask or a short timer
 * later. Checked per task: it ends, by the rules (cancelled before start → CANCELED and never
 * invoked; cancelled later → CANCELED, or FINISHED when the work returned first; never cancelled →
 * FINISHED with its result), within `timeoutMs` + slack of the request, never abandoned, invoked at
 * most once. Checked per executor: nothing leaked (no live timer of the runtime's scheduler, every
 * slot FREE, no thread, no process), no fatal error, concurrency within `maxThreads` /
 * `maxProcesses`.
 *
 * Inline tasks are all cooperative (nothing can stop the others). Worker and process storms include
 * 3% deaf tasks: they need the hard stop, never the watchdog. Process tasks use `reuse: true` and
 * `maxProcesses: 2`: a process whose task was cancelled is never reused, so every cancel that lands
 * on a running task costs a fresh process (~230–270 spawns per storm); 1,000 process tasks took
 * 15–31 s on this loaded 2-core machine, so the full count fits.
 *
 * The seed is printed in the summary and in failures; `TASKWARDEN_SEED=<seed>` replays the same
 * plans (which task is cancelled when, and how); the interleavings still come from real time.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import type { ExecutionState, Executor, Task, TaskOutcome } from '@taskwarden/sdk';
import { createRuntime, DIAGNOSE_TIMEOUT_MS, isTerminal, SystemScheduler } from '@taskwarden/sdk';
import { RecordingFatalErrorHandler } from '@taskwarden/sdk/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConcurrencyReport } from './helpers.js';
import {
  ConcurrencyProbe,
  CountingScheduler,
  fixture,
  liveChildren,
  osThreadCount,
  Prng,
  ProcessLedger,
  percentile,
  runSeed,
  silentLogger,
  tempDir,
  until,
  warmThreadPool,
} from './helpers.js';

const SEED = runSeed();
const TASKS = 1_000;
const TIMINGS = { interruptIntervalMs: 50, gracePeriodMs: 150, timeoutMs: 2_000 };
const SLACK_MS = 1_500;
const MAX_THREADS = 2;
const MAX_PROCESSES = 2;
const STORM_MODULE = fixture('storm.mjs');

type ExecutorKey = 'inline' | 'worker' | 'process';
type When = 'never' | 'created' | 'deploying' | 'running';
type How = 'sync' | 'microtask' | 'immediate' | 'timer';

interface StormTask {
  id: string;
  deaf: boolean;
  when: When;
  how: How;
  /** For `how: 'timer'`: the delay in ms. */
  delayMs: number;
  task: Task;
  /** State right before our cancel() (undefined: never cancelled). */
  cancelledIn?: ExecutionState;
  cancelAt?: number;
  outcome?: TaskOutcome;
  doneAt?: number;
}

interface StormResult {
  executor: ExecutorKey;
  tasks: number;
  ms: number;
  /** `cancelled in X → final state` → count. */
  table: Record<string, number>;
  latencyP50: number;
  latencyMax: number;
  hardStopped: number;
  probe: ConcurrencyReport;
  timersArmed: number;
  peakTimers: number;
  /** Timers still armed when the last task was done, and when close() resolved. */
  timersAtLastDone: string[];
  timersAtClose: string[];
  spawned?: number;
}

const results: StormResult[] = [];
const env = { baselineThreads: 0, baselineChildren: 0 };

async function storm(key: ExecutorKey, seed: number): Promise<StormResult> {
  const random = new Prng(seed);
  const dir = tempDir('storm');
  const log = join(dir.path, 'invocations.log');
  const ledger = new ProcessLedger();
  const counting = new CountingScheduler(new SystemScheduler());
  const fatal = new RecordingFatalErrorHandler();
  const worker = key === 'worker' ? new WorkerExecutor({ maxThreads: MAX_THREADS }) : undefined;
  const processes =
    key === 'process'
      ? new ProcessExecutor({
          maxProcesses: MAX_PROCESSES,
          reuse: true,
          killGraceMs: 100,
          spawn: ledger.spawn,
        })
      : undefined;
  const executor: Executor = worker ?? processes ?? new InlineExecutor();
  const runtime = createRuntime({
    numberOfSlots: 4,
    executors: { [key]: executor },
    cancellation: TIMINGS,
    fatalErrorHandler: fatal,
    scheduler: counting,
    logger: silentLogger(),
  });
  const probe = new ConcurrencyProbe(runtime, {
    ...(worker ? { worker: { executor: worker, maxThreads: MAX_THREADS } } : {}),
    ...(processes ? { process: { executor: processes, maxProcesses: MAX_PROCESSES } } : {}),
    baselineThreads: env.baselineThreads,
    baselineChildren: env.baselineChildren,
    procEvery: 25,
  });
  for (let index = 0; index < 4; index++) {
    runtime.slotTable.allocateSlot({ index, jobId: `job-${index % 2}`, allocationId: `slot-${index}` });
    runtime.slotTable.markSlotActive(`slot-${index}`);
  }

  const all: StormTask[] = [];
  const byId = new Map<string, StormTask>();
  const cancel = (entry: StormTask): void => {
    if (entry.cancelAt !== undefined) return;
    entry.cancelledIn = entry.task.state;
    entry.cancelAt = performance.now();
    entry.task.cancel();
  };
  const later = (entry: StormTask, fn: () => void): void => {
    switch (entry.how) {
      case 'sync':
        fn();
        break;
      case 'microtask':
        queueMicrotask(fn);
        break;
      case 'immediate':
        setImmediate(fn);
        break;
      case 'timer':
        setTimeout(fn, entry.delayMs);
        break;
    }
  };
  let hardStopped = 0;
  runtime.events.on('taskStateChanged', ({ task, to }) => {
    const entry = byId.get(task.executionId);
    if (!entry) return;
    if (to === 'DEPLOYING' && entry.when === 'deploying') later(entry, () => cancel(entry));
    if (to === 'RUNNING' && entry.when === 'running') later(entry, () => cancel(entry));
  });

  // A window of tasks in flight, so the executor's queue, its threads or processes and the ladder
  // all see cancellations at every stage.
  const window = key === 'inline' ? 16 : 6;
  const started = performance.now();
  let next = 0;
  let failure: Error | undefined;
  let closed = false;
  try {
    await new Promise<void>((resolve) => {
      let inFlight = 0;
      // A storm that stalls (a task whose done never resolves) must still fail, close and clean up.
      const guard = setTimeout(() => {
        failure ??= new Error(`stalled: ${inFlight} tasks still in flight after 100 s`);
        resolve();
      }, 100_000);
      const finish = (error?: unknown): void => {
        if (error !== undefined) failure ??= error as Error;
        clearTimeout(guard);
        resolve();
      };
      const fill = (): void => {
        try {
          while (next < TASKS && inFlight < window) submitOne();
        } catch (error) {
          finish(error);
        }
      };
      const submitOne = (): void => {
        const index = next++;
        const id = `${key}-${index}`;
        const deaf = key !== 'inline' && random.chance(0.03);
        const when = random.pick<When>(['never', 'created', 'deploying', 'running']);
        const how = random.pick<How>(['sync', 'microtask', 'immediate', 'timer']);
        // Deaf tasks are always cancelled while running: they are there to need the hard stop.
        const entry = {
          id,
          deaf,
          when: deaf ? 'running' : when,
          how,
          delayMs: random.int(0, 5),
        } as StormTask;
        byId.set(id, entry);
        entry.task = runtime.submit({
          jobId: `job-${index % 2}`,
          allocationId: `slot-${index % 4}`,
          executionId: id,
          invokable: { module: STORM_MODULE, export: deaf ? 'deaf' : 'cooperative' },
          input: { id, log, ms: deaf ? 5_000 : random.int(0, 8) },
        });
        all.push(entry);
        if (entry.when === 'created') cancel(entry);
        inFlight++;
        void entry.task.done.then((outcome) => {
          entry.outcome = outcome;
          entry.doneAt = performance.now();
          if (outcome.error?.message.includes('terminat') || outcome.error?.name === 'ProcessExitedError') {
            hardStopped++;
          }
          if (runtime.getTask(id) !== undefined) failure ??= new Error(`${id} still listed after done`);
          inFlight--;
          fill();
          if (inFlight === 0 && next >= TASKS) finish();
        });
      };
      fill();
    });
    const elapsed = performance.now() - started;
    const healthBeforeClose = runtime.health;
    const timersAtLastDone = counting.describeLive();
    await runtime.close();
    closed = true;
    const report = probe.stop();
    const timersAtClose = counting.describeLive();

    const problems: string[] = [];
    if (failure) problems.push(failure.message);
    if (healthBeforeClose !== 'running') problems.push(`health ${healthBeforeClose} before close`);
    if (fatal.errors.length > 0)
      problems.push(`fatal errors: ${fatal.errors.map((e) => e.message).join('; ')}`);
    // A timer may outlive its task by a bounded time (the ladder's diagnose() timeout, 2 s, is
    // cancelled when a diagnose() still in flight settles); none may stay armed for good.
    try {
      await until(() => counting.live === 0, 'the runtime timers to end', DIAGNOSE_TIMEOUT_MS + 1_000);
    } catch {
      problems.push(
        `live timers: ${counting.describeLive().join(', ')} (at the last done: ${timersAtLastDone.join(', ') || 'none'}; at close: ${timersAtClose.join(', ') || 'none'})`,
      );
    }
    problems.push(...report.violations);

    const invocations = new Map<string, number>();
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      if (line) invocations.set(line, (invocations.get(line) ?? 0) + 1);
    }
    const table: Record<string, number> = {};
    const latencies: number[] = [];
    for (const entry of all) {
      const { outcome, id } = entry;
      const say = (text: string) =>
        problems.push(
          `${id} (${entry.deaf ? 'deaf' : 'cooperative'}, cancel ${entry.when}/${entry.how} in ${entry.cancelledIn ?? '-'}): ${text} → ${outcome?.state} ${outcome?.error?.message ?? ''}`,
        );
      if (!outcome || entry.doneAt === undefined) {
        say('never done');
        continue;
      }
      const invoked = invocations.get(id) ?? 0;
      const key = `${entry.cancelledIn ?? 'never'} → ${outcome.state}`;
      table[key] = (table[key] ?? 0) + 1;
      if (invoked > 1) say(`invoked ${invoked} times`);
      if (outcome.abandoned) say('abandoned');
      if (entry.cancelAt !== undefined) {
        const latency = entry.doneAt - entry.cancelAt;
        if (!isTerminal(entry.cancelledIn as ExecutionState)) latencies.push(latency);
        if (latency > TIMINGS.timeoutMs + SLACK_MS) say(`done ${Math.round(latency)} ms after cancel`);
      }
      const cancelledIn = entry.cancelledIn;
      if (cancelledIn === undefined || isTerminal(cancelledIn)) {
        // Never cancelled, or cancelled after it had ended: the work decided.
        if (outcome.state !== 'FINISHED' || outcome.result !== id) say(`expected FINISHED with ${id}`);
        if (outcome.cancellationRequested) say('cancellationRequested without an effective cancel');
        if (invoked !== 1) say(`finished but invoked ${invoked} times`);
      } else if (cancelledIn === 'CREATED') {
        if (outcome.state !== 'CANCELED') say('cancelled in CREATED');
        if (invoked !== 0) say('cancelled before it started, but invoked');
      } else {
        if (!outcome.cancellationRequested) say('cancellationRequested is false');
        if (outcome.state === 'FINISHED') {
          if (outcome.result !== id || invoked !== 1) say('FINISHED without its result or its invocation');
        } else if (outcome.state !== 'CANCELED') {
          say(`cancelled in ${cancelledIn}`);
        }
      }
    }

    // Nothing leaked.
    const held = runtime.slotTable.getSlotReport().filter((entry) => entry.state !== 'FREE');
    if (held.length > 0) problems.push(`slots not FREE after close: ${JSON.stringify(held)}`);
    try {
      runtime.slotTable.checkInvariants();
    } catch (error) {
      problems.push((error as Error).message);
    }
    if (worker && worker.threadCount !== 0) problems.push(`threadCount ${worker.threadCount}`);
    if (processes && (processes.stats.processes !== 0 || processes.pids.length !== 0)) {
      problems.push(`processes ${JSON.stringify(processes.stats)}`);
    }
    try {
      await ledger.waitAllGone(2_000);
    } catch (error) {
      problems.push((error as Error).message);
    }
    try {
      await until(() => osThreadCount() <= env.baselineThreads, 'threads', 3_000);
    } catch {
      problems.push(`threads: ${osThreadCount()} > baseline ${env.baselineThreads}`);
    }
    if (problems.length > 0) {
      throw new Error(
        `${key} storm (seed ${seed}, replay with TASKWARDEN_SEED=${SEED}): ${problems.length} problem(s):\n` +
          problems
            .slice(0, 40)
            .map((text) => `  - ${text}`)
            .join('\n'),
      );
    }
    return {
      executor: key,
      tasks: all.length,
      ms: Math.round(elapsed),
      table,
      latencyP50: Math.round(percentile(latencies, 50)),
      latencyMax: Math.round(Math.max(0, ...latencies)),
      hardStopped,
      probe: report,
      timersArmed: counting.armed,
      peakTimers: counting.peak,
      timersAtLastDone,
      timersAtClose,
      ...(processes ? { spawned: processes.stats.spawned } : {}),
    };
  } finally {
    probe.stop();
    if (!closed) {
      await Promise.race([runtime.close(), new Promise((resolve) => setTimeout(resolve, 20_000))]).catch(
        () => undefined,
      );
    }
    ledger.killSurvivors();
    dir.remove();
  }
}

describe(`cancellation storm: ${TASKS} tasks per executor`, () => {
  beforeAll(async () => {
    await warmThreadPool();
    env.baselineThreads = osThreadCount();
    env.baselineChildren = liveChildren().length;
  });

  afterAll(() => {
    for (const result of results) {
      console.log(
        `[cancellation-storm] seed ${SEED}, ${result.executor}: ${result.tasks} tasks in ${result.ms} ms; ` +
          `cancel→done p50 ${result.latencyP50} ms, max ${result.latencyMax} ms; hard-stopped ${result.hardStopped}; ` +
          `timers armed ${result.timersArmed} (peak live ${result.peakTimers}; live at the last done [${result.timersAtLastDone.join(', ')}], at close [${result.timersAtClose.join(', ')}], then 0)` +
          `${result.spawned === undefined ? '' : `; processes spawned ${result.spawned}`}; ` +
          `peak threads ${result.probe.maxWorkerThreads}, peak processes ${result.probe.maxProcesses}; ` +
          `outcomes ${JSON.stringify(result.table)}`,
      );
    }
  });

  for (const [offset, key] of (['inline', 'worker', 'process'] as const).entries()) {
    it(`${key}: every task ends by the rules, none abandoned, nothing leaked`, async () => {
      const result = await storm(key, (SEED + offset) >>> 0);
      results.push(result);
      expect(result.tasks).toBe(TASKS);
      // Every kind of timing happened (guards the harness against testing nothing).
      for (const state of ['never', 'CREATED', 'DEPLOYING', 'RUNNING']) {
        expect(Object.keys(result.table).some((entry) => entry.startsWith(`${state} →`))).toBe(true);
      }
    }, 120_000);
  }
});
