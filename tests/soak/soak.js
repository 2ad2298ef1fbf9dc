// Soak test (issue 9): many tasks through one runtime with the three executors, with random
// cancellation, watching memory, threads and processes. Not part of the test suite: it takes minutes.
//
//   npm run soak                                   # build, then 100,000 tasks
//   node --expose-gc tests/soak/soak.js --tasks=20000 --seed=42
//
// Mix: ~58% inline (half functions, half module invokables), ~40% worker threads (maxThreads 2),
// ~2% child processes (maxProcesses 2, reuse). Each task is cancelled never (60%), right after
// submit (15%), when it enters DEPLOYING (10%) or once RUNNING (15%). Every 10,000 tasks it prints
// heap used, RSS, OS threads and live child processes. After a warm-up (5,000 tasks) it takes a
// heap baseline (after forced GC); at the end, with every task done, it forces GC again and
// compares. Exit code 1 if the heap grew by more than 5 MB, if any task did not end by the rules
// (not terminal, abandoned, wrong final state), if a timer, slot, thread or process is left after
// close().
import { spawn as nodeSpawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import { createRuntime, EmitOnlyFatalErrorHandler, isTerminal } from '@taskwarden/sdk';
import { CountingScheduler, sleep } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { abortableDelay } from '../reliability/fixtures/abortable-delay.mjs';

const HEAP_LIMIT_BYTES = 5 * 1024 * 1024;
const WARM_UP_TASKS = 5_000;
const REPORT_EVERY = 10_000;
const WINDOW = 32;
const TIMINGS = { interruptIntervalMs: 50, gracePeriodMs: 150, timeoutMs: 2_000 };
const MODULE = new URL('./fixtures/soak-task.mjs', import.meta.url).pathname;

// ------------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const options = { tasks: 100_000, seed: (Date.now() ^ (process.pid << 16)) >>> 0 };
  for (const arg of argv) {
    const match = /^--(tasks|seed)=(\d+)$/.exec(arg);
    if (!match) {
      console.error(`unknown argument ${arg}; usage: soak.js [--tasks=N] [--seed=S]`);
      process.exit(2);
    }
    options[match[1]] = Number(match[2]);
  }
  if (options.tasks < WARM_UP_TASKS + 1) {
    console.error(`--tasks must be more than the ${WARM_UP_TASKS} warm-up tasks`);
    process.exit(2);
  }
  return options;
}

/** mulberry32: a small seeded PRNG in [0, 1). */
function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** `global.gc`, also when run without --expose-gc. */
function gcFunction() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc');
}

const osThreads = () => readdirSync('/proc/self/task').length;

/** Live (non-zombie) processes that are our children or members of a group we started. */
function liveProcesses(groups) {
  const alive = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // This container's PID 1 does not reap: a zombie is a dead process.
    if (state === 'Z' || state === 'X') continue;
    if (Number(ppid) === process.pid || groups.has(Number(pgid))) alive.push(Number(name));
  }
  return alive;
}

const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function waitFor(predicate, ms) {
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) await sleep(10);
  return predicate();
}

// ------------------------------------------------------------------------------------------------

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const random = prng(options.seed);
  const gc = gcFunction();
  // The libuv thread pool starts on the first asynchronous fs call and never shrinks: not a leak.
  await Promise.all(Array.from({ length: 8 }, () => readFile('/proc/self/stat')));
  const baselineThreads = osThreads();
  console.log(
    `soak: ${options.tasks} tasks, seed ${options.seed}, window ${WINDOW}, node ${process.version}, ` +
      `baseline ${baselineThreads} OS threads`,
  );

  const spawnedGroups = new Set();
  const spawn = (...args) => {
    const child = nodeSpawn(...args);
    if (child.pid !== undefined) spawnedGroups.add(child.pid);
    return child;
  };
  const scheduler = new CountingScheduler();
  const fatal = new EmitOnlyFatalErrorHandler();
  const worker = new WorkerExecutor({ maxThreads: 2 });
  const processes = new ProcessExecutor({ maxProcesses: 2, reuse: true, killGraceMs: 100, spawn });
  const runtime = createRuntime({
    numberOfSlots: 4,
    executors: { inline: new InlineExecutor(), worker, process: processes },
    cancellation: TIMINGS,
    fatalErrorHandler: fatal,
    scheduler,
    logger: pino({ level: 'silent' }),
  });
  for (let index = 0; index < 4; index++) {
    runtime.slotTable.allocateSlot({ index, jobId: `job-${index % 2}`, allocationId: `slot-${index}` });
    runtime.slotTable.markSlotActive(`slot-${index}`);
  }

  const inlineFunction = ({ input, signal }) => abortableDelay(input.ms, signal, input.value);

  // Only tasks in flight are kept; finished ones are counted and dropped.
  const plans = new Map();
  const counts = { submitted: 0, done: 0, byExecutor: { inline: 0, worker: 0, process: 0 }, byState: {} };
  const problems = [];
  const problem = (text) => {
    if (problems.length < 20) problems.push(text);
    else if (problems.length === 20) problems.push('…');
  };
  const cancel = (plan) => {
    if (plan.cancelledIn !== undefined) return;
    plan.cancelledIn = plan.task.state;
    plan.task.cancel();
  };
  runtime.events.on('taskStateChanged', ({ task, to }) => {
    const plan = plans.get(task.executionId);
    if (plan === undefined) return;
    if (to === 'DEPLOYING' && plan.when === 'deploying') queueMicrotask(() => cancel(plan));
    if (to === 'RUNNING' && plan.when === 'running') setTimeout(() => cancel(plan), Math.floor(random() * 3));
  });

  const started = performance.now();
  const progress = () => {
    const memory = process.memoryUsage();
    console.log(
      `${String(counts.done).padStart(7)} tasks  ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s  ` +
        `heap ${mb(memory.heapUsed)}  rss ${mb(memory.rss)}  threads ${osThreads()}  ` +
        `children ${liveProcesses(spawnedGroups).length}  timers ${scheduler.live}  ` +
        `spawned ${processes.stats.spawned}`,
    );
  };

  const submitOne = (index) => {
    const roll = random();
    const executor = roll < 0.58 ? 'inline' : roll < 0.98 ? 'worker' : 'process';
    const whenRoll = random();
    const when =
      whenRoll < 0.6 ? 'never' : whenRoll < 0.75 ? 'created' : whenRoll < 0.85 ? 'deploying' : 'running';
    const value = index;
    const invokable = executor === 'inline' && random() < 0.5 ? inlineFunction : { module: MODULE };
    const task = runtime.submit({
      jobId: `job-${index % 2}`,
      allocationId: `slot-${index % 4}`,
      executor,
      invokable,
      input: { ms: Math.floor(random() * 3), value },
    });
    const plan = { task, when, cancelledIn: undefined };
    plans.set(task.executionId, plan);
    counts.submitted++;
    counts.byExecutor[executor]++;
    if (when === 'created') cancel(plan);
    return task.done.then((outcome) => {
      plans.delete(task.executionId);
      counts.done++;
      const key = `${plan.cancelledIn === undefined ? 'never' : plan.cancelledIn} → ${outcome.state}`;
      counts.byState[key] = (counts.byState[key] ?? 0) + 1;
      if (!isTerminal(outcome.state) || !isTerminal(task.state))
        problem(`task ${index} not terminal: ${task.state}`);
      if (outcome.abandoned) problem(`task ${index} (${executor}) abandoned`);
      if (runtime.getTask(task.executionId) !== undefined) problem(`task ${index} still listed after done`);
      const cancelledIn = plan.cancelledIn;
      if (cancelledIn === undefined || isTerminal(cancelledIn)) {
        if (outcome.state !== 'FINISHED' || outcome.result !== value) {
          problem(
            `task ${index} (${executor}) not cancelled but ${outcome.state} ${outcome.error?.message ?? ''}`,
          );
        }
      } else if (cancelledIn === 'CREATED') {
        if (outcome.state !== 'CANCELED') problem(`task ${index} cancelled in CREATED but ${outcome.state}`);
      } else if (outcome.state !== 'CANCELED' && outcome.state !== 'FINISHED') {
        problem(`task ${index} (${executor}) cancelled in ${cancelledIn} but ${outcome.state}`);
      }
      if (counts.done % REPORT_EVERY === 0) progress();
    });
  };

  /** Runs tasks [from, to) with at most WINDOW in flight. */
  const runTasks = (from, to) =>
    new Promise((resolve) => {
      let next = from;
      let inFlight = 0;
      const pump = () => {
        while (next < to && inFlight < WINDOW) {
          inFlight++;
          submitOne(next++).then(() => {
            inFlight--;
            pump();
          });
        }
        if (inFlight === 0 && next >= to) resolve();
      };
      pump();
    });

  const settledHeap = async () => {
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return process.memoryUsage().heapUsed;
  };

  await runTasks(0, WARM_UP_TASKS);
  const baselineHeap = await settledHeap();
  const baselineRss = process.memoryUsage().rss;
  console.log(
    `warm-up done (${WARM_UP_TASKS} tasks): baseline heap ${mb(baselineHeap)}, rss ${mb(baselineRss)}`,
  );

  await runTasks(WARM_UP_TASKS, options.tasks);
  const elapsedMs = performance.now() - started;
  if (counts.done % REPORT_EVERY !== 0) progress();
  const finalHeap = await settledHeap();
  const finalRss = process.memoryUsage().rss;
  const growth = finalHeap - baselineHeap;
  const healthBeforeClose = runtime.health;
  const timersBeforeClose = scheduler.live;

  const closeStart = performance.now();
  await runtime.close();
  const closeMs = performance.now() - closeStart;
  const afterCloseHeap = await settledHeap();

  const threadsGone = await waitFor(() => osThreads() <= baselineThreads, 3_000);
  const processesGone = await waitFor(() => liveProcesses(spawnedGroups).length === 0, 3_000);
  const slotsHeld = runtime.slotTable.getSlotReport().filter((entry) => entry.state !== 'FREE');
  let invariants = 'ok';
  try {
    runtime.slotTable.checkInvariants();
  } catch (error) {
    invariants = error.message;
  }

  console.log(
    `\ndone: ${counts.done}/${counts.submitted} tasks in ${(elapsedMs / 1000).toFixed(1)} s ` +
      `(${Math.round(counts.done / (elapsedMs / 1000))} tasks/s), close ${Math.round(closeMs)} ms; ` +
      `by executor ${JSON.stringify(counts.byExecutor)}; processes spawned ${processes.stats.spawned}; ` +
      `timers armed ${scheduler.armed}`,
  );
  console.log(`outcomes (cancelled in → final state): ${JSON.stringify(counts.byState)}`);
  console.log(
    `heap: baseline ${mb(baselineHeap)} → end ${mb(finalHeap)} (growth ${(growth / 1024 / 1024).toFixed(2)} MB, ` +
      `limit ${mb(HEAP_LIMIT_BYTES)}); after close ${mb(afterCloseHeap)}; ` +
      `rss baseline ${mb(baselineRss)} → end ${mb(finalRss)}`,
  );
  console.log(
    `after close: OS threads ${osThreads()} (baseline ${baselineThreads}), live child processes ` +
      `${liveProcesses(spawnedGroups).length}, worker threads ${worker.threadCount}, process executor ` +
      `${JSON.stringify(processes.stats)}, live timers ${scheduler.live}, slots not FREE ${slotsHeld.length}, ` +
      `invariants ${invariants}, fatal errors ${fatal.errors.length}`,
  );

  const failures = [...problems];
  if (counts.done !== options.tasks || counts.submitted !== options.tasks) {
    failures.push(`${counts.done} of ${options.tasks} tasks done`);
  }
  if (growth > HEAP_LIMIT_BYTES) failures.push(`heap grew by ${mb(growth)} (limit ${mb(HEAP_LIMIT_BYTES)})`);
  if (healthBeforeClose !== 'running') failures.push(`runtime health ${healthBeforeClose} before close`);
  if (fatal.errors.length > 0) failures.push(`${fatal.errors.length} fatal errors`);
  if (timersBeforeClose !== 0 || scheduler.live !== 0) {
    failures.push(`live timers: ${timersBeforeClose} with every task done, ${scheduler.live} after close`);
  }
  if (!threadsGone || worker.threadCount !== 0)
    failures.push(`threads left: ${osThreads()} > ${baselineThreads}`);
  if (!processesGone || processes.pids.length !== 0) {
    failures.push(`processes left: ${liveProcesses(spawnedGroups).join(', ')}`);
  }
  if (slotsHeld.length > 0) failures.push(`slots not FREE: ${JSON.stringify(slotsHeld)}`);
  if (invariants !== 'ok') failures.push(`slot table: ${invariants}`);

  if (failures.length > 0) {
    console.error(
      `\nSOAK FAILED (seed ${options.seed}):\n${failures.map((text) => `  - ${text}`).join('\n')}`,
    );
    process.exitCode = 1;
  } else {
    console.log('\nSOAK PASSED');
  }
}

await main();
