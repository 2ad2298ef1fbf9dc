/**
 * Fault injection across the three executors in one runtime (issues 9 and 14): random sequences of
 * submissions with random task behaviours, interleaved with random faults, and the SDK's three
 * promises checked after every run:
 *
 * 1. every cancellation ends: each task is terminal and its `done` resolved within `timeoutMs` +
 *    slack of the first request to stop it (plus whatever time the host spent blocked on purpose in
 *    between), with the final state the rules allow; no unhandled rejection; health `'running'`
 *    unless a timer fault made a task `abandoned`;
 * 2. slots never leak: `slotTable.checkInvariants()` after every step and at every transition, every
 *    slot FREE after `close()`, no live timer left;
 * 3. work is stopped for real: no thread (`/proc/self/task`), no process (a `/proc` scan for our
 *    children and our process groups, zombies counted as dead; every descendant a task recorded;
 *    every process carrying one of our tree cookies in its environment) and no cgroup of ours is
 *    left, and `maxThreads` / `maxProcesses` are never exceeded (sampled at every transition and
 *    every 2 ms). A process task's descendants that left its process group are gone when its `done`
 *    resolves (unless `reuse` kept the process), and so are a worker task's once a hard stop ended it;
 *    only what the process executor's tree-kill mode documents as escaping may outlive them (the
 *    test kills those itself, and counts them).
 *
 * Behaviours: finish, throw, cooperative, finishes-anyway, deaf-but-yielding, CPU-bound deaf
 * (worker/process), crash (`process.exit` or an uncaught exception; worker/process), a throwing
 * `cancel()` hook, a hanging `cancel()` hook (a never-settling promise; on worker/process also a
 * hook that spins on the task's thread), process tasks that leave a SIGTERM-deaf grandchild, and
 * (issue 14) tasks that start descendants escaping their process group — coreutils `timeout`, a
 * `bash -m` job, a `setpgid` caller, a double-fork `setsid` daemon, `spawn(..., { detached: true })`
 * with and without an environment — then wait cooperatively or deaf (worker/process); tasks that
 * throw, reject with, return or log a value of `hostileValues()`; `cancel()` hooks that throw or
 * reject one.
 * Faults: `cancel` (a quarter of them followed by a synchronous host block of 100–600 ms; in one
 * run per CI run, the first cancel is followed by a block longer than `timeoutMs`), `fail` (with an
 * Error, or with a hostile value), `cancelJob`, `freeSlot`, SIGKILL of a running child by its pid
 * from `executor.pids`, SIGSTOP of a running child and SIGCONT of a stopped one (children still
 * stopped at the end meet `close()` stopped), a timer that cannot be armed (a `ThrowingScheduler`
 * over the real `SystemScheduler` failing its Nth call: eager escalation makes that task `abandoned`
 * and the runtime `'fatal'`, which is expected only in those runs), and `spawn` failing with
 * `EAGAIN`. Each run's process executor uses a tree-kill mode drawn from those the machine offers
 * (`'auto'` most often).
 *
 * Per CI run: 36 runs (one `it` each) of 12–28 steps. The summary line printed after the runs gives
 * the seed, the tasks, the faults per category (escaping descendants per kind, hostile values per
 * door, stops, host blocks), the stop request→done percentiles net of host blocks, and peaks. Figures
 * over several seeds are in the README's Reliability section.
 *
 * Plans come from fast-check (`fc.sample`) with a seed printed on failure; replay a failing run
 * with `TASKWARDEN_SEED=<seed> npx vitest run --project reliability fault-injection`.
 */
import { randomBytes } from 'node:crypto';
import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InlineExecutor, WorkerExecutor, WorkerExitedError } from '@taskwarden/executor-local';
import { ProcessExecutor, ProcessExitedError, ProcessSpawnError } from '@taskwarden/executor-process';
import type { ExecutionState, Task, TaskOutcome, TaskRuntime } from '@taskwarden/sdk';
import {
  CancellationArmingError,
  CancellationTimeoutError,
  createRuntime,
  DIAGNOSE_TIMEOUT_MS,
  isError,
  isTerminal,
  NonErrorThrownError,
  RuntimeFatalError,
  SerializationError,
  SystemScheduler,
  TaskFailedExternallyError,
} from '@taskwarden/sdk';
import type { TreeKillMode } from '@taskwarden/sdk/internal';
import { describe as describeValue, safeString, TREE_COOKIE_ENV } from '@taskwarden/sdk/internal';
import {
  hostileValues,
  isGone,
  RecordingFatalErrorHandler,
  ThrowingScheduler,
} from '@taskwarden/sdk/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConcurrencyReport, EscapeKind, InvocationRecord } from './helpers.js';
import {
  blockHost,
  ConcurrencyProbe,
  CountingScheduler,
  cgroupsLeftBy,
  DOCUMENTED_ESCAPES,
  ESCAPE_KINDS,
  fixture,
  liveChildren,
  liveCookieCarriers,
  osThreadCount,
  ProcessLedger,
  percentile,
  procInfo,
  readInvocations,
  runSeed,
  silentLogger,
  sleep,
  tempDir,
  treeKillModesHere,
  until,
  warmThreadPool,
} from './helpers.js';

const RUNS = 36;
const SEED = runSeed();
const TIMINGS = { interruptIntervalMs: 50, gracePeriodMs: 150, timeoutMs: 2_000 };
/** Event-loop and OS delays on a loaded 2-core machine; the promise itself is `timeoutMs`. */
const SLACK_MS = 1_500;
const MAX_THREADS = 2;
const MAX_PROCESSES = 2;
const SLOTS = 4;
const BEHAVIOURS_MODULE = fixture('behaviours.mjs');
const HOSTILE_MODULE = fixture('hostile-behaviours.mjs');
/** Longer than `timeoutMs`: every ladder timer of the cancelled task is overdue when the host wakes up. */
const LONG_BLOCK_MS = TIMINGS.timeoutMs + 300;
/** The run whose first cancel is followed by the long block. */
const LONG_BLOCK_RUN = SEED % RUNS;
const HOSTILE = hostileValues();
/** The tree-kill modes of this machine (strongest first); runs draw theirs from these. */
const MODES = treeKillModesHere();
/**
 * A token of our own in TASKWARDEN_TREE, set before any executor exists: every process this file's
 * executors start, and everything those start, inherits it unless its environment is cleared, so a
 * /proc scan finds whatever of ours is left. (The executors append their own cookies to it.)
 */
const MARKER = `reliability-${process.pid}-${randomBytes(4).toString('hex')}`;

type ExecutorKey = 'inline' | 'worker' | 'process';
type Behaviour =
  | 'finish'
  | 'fail'
  | 'cooperative'
  | 'finishesAnyway'
  | 'deafYielding'
  | 'cpuDeaf'
  | 'crash'
  | 'throwingHook'
  | 'hangingHook'
  | 'escapes'
  | 'hostile'
  | 'hostileHook';

const COMMON: Behaviour[] = [
  'finish',
  'fail',
  'cooperative',
  'finishesAnyway',
  'deafYielding',
  'throwingHook',
  'hangingHook',
  'hostile',
  'hostileHook',
];
const BEHAVIOURS: Record<ExecutorKey, Behaviour[]> = {
  // A deaf inline task that blocked the loop could never be stopped: inline gets only yielding work.
  // Nor does it start processes: nothing tracks what code on the host's own thread spawns.
  inline: COMMON,
  worker: [...COMMON, 'cpuDeaf', 'cpuDeaf', 'crash', ...Array<Behaviour>(6).fill('escapes')],
  process: [...COMMON, 'cpuDeaf', 'cpuDeaf', 'crash', ...Array<Behaviour>(6).fill('escapes')],
};
/** Behaviours whose work can return a value (a cancelled task may then end FINISHED); see `canReturn`. */
const CAN_RETURN = new Set<Behaviour>([
  'finish',
  'cooperative',
  'finishesAnyway',
  'deafYielding',
  'cpuDeaf',
  'throwingHook',
  'hangingHook',
  'escapes',
  'hostileHook',
]);

type HostileHow = 'throw' | 'reject' | 'return' | 'log';
const HOSTILE_HOWS: HostileHow[] = ['throw', 'reject', 'return', 'log'];

/**
 * What returning each hostile value does (checked value by value in the executors' own tests; here
 * it decides what the rules allow). `readsThen`: resolving a promise with it reads a `then` that
 * throws, so the task FAILS with that Error on every executor. `cloneable`: a worker or child can
 * send it back (else FAILED with a SerializationError); inline results are never cloned. `same`:
 * how to recognise the result. A value this table does not know fails the run (extend it).
 */
const RETURNED: Record<
  string,
  { readsThen?: true; cloneable: boolean; same: (result: unknown, executor: ExecutorKey) => boolean }
> = {
  null: { cloneable: true, same: (result) => result === null },
  undefined: { cloneable: true, same: (result) => result === undefined },
  'a Symbol': { cloneable: false, same: (result) => typeof result === 'symbol' },
  'a BigInt': { cloneable: true, same: (result) => result === 10n ** 30n },
  'an Error whose message getter throws': { cloneable: false, same: (result) => isError(result) },
  'an Error whose stack and name getters throw': { cloneable: false, same: (result) => isError(result) },
  'a Proxy whose every trap throws': { readsThen: true, cloneable: false, same: () => false },
  'a circular object': {
    cloneable: true,
    same: (result) => (result as { self?: unknown } | null)?.self === result,
  },
  'a null-prototype object with a throwing toJSON': {
    cloneable: false,
    same: (result) => typeof result === 'object' && result !== null,
  },
  'a thenable whose then getter throws': { readsThen: true, cloneable: false, same: () => false },
};

/** The way a submit step's `variant` picks the hostile value and door, or the escaping kinds. */
function hostileOf(variant: number): {
  value: number;
  name: string;
  how: HostileHow;
  hookHow: 'throw' | 'reject';
} {
  const value = variant % HOSTILE.length;
  return {
    value,
    name: (HOSTILE[value] as (typeof HOSTILE)[number]).name,
    how: HOSTILE_HOWS[Math.floor(variant / HOSTILE.length) % HOSTILE_HOWS.length] as HostileHow,
    hookHow: Math.floor(variant / HOSTILE.length) % 2 === 0 ? 'throw' : 'reject',
  };
}

/** Three to six consecutive kinds (wrapping), so every kind is drawn as often as the others. */
function escapeKindsOf(variant: number): EscapeKind[] {
  const first = variant % ESCAPE_KINDS.length;
  const count = 3 + (Math.floor(variant / ESCAPE_KINDS.length) % 4);
  return Array.from(
    { length: count },
    (_, i) => ESCAPE_KINDS[(first + i) % ESCAPE_KINDS.length] as EscapeKind,
  );
}

// ---------------------------------------------------------------------------------------------
// Plans.
// ---------------------------------------------------------------------------------------------

type Step =
  | {
      kind: 'submit';
      executor: ExecutorKey;
      behaviour: number;
      ms: number;
      slot: number;
      flag: boolean;
      /** Picks the hostile value and door, or the escaping kinds. */
      variant: number;
    }
  | {
      kind: 'cancel';
      target: number /** A synchronous host block right after, ms (0: none). */;
      block: number;
    }
  | { kind: 'fail' | 'kill' | 'stop' | 'cont'; target: number }
  | { kind: 'failHostile'; target: number; value: number }
  | { kind: 'cancelJob'; job: number }
  | { kind: 'freeSlot'; slot: number }
  | { kind: 'wait'; ms: number }
  | { kind: 'tick' };

type TreeKillChoice = 'auto' | TreeKillMode;

interface RunPlan {
  /** ProcessExecutor `reuse`. */
  reuse: boolean;
  /** ProcessExecutor `treeKill` (a mode this machine lacks falls back to `'auto'`). */
  treeKill: TreeKillChoice;
  /** `ThrowingScheduler.failOnNth(n)` armed when the run starts. */
  timerFaultAt: number | null;
  /** Spawn calls (1-based) that throw EAGAIN. */
  spawnFaults: number[];
  steps: Step[];
}

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('submit' as const),
      executor: fc.constantFrom<ExecutorKey>('inline', 'worker', 'process'),
      behaviour: fc.nat(999),
      ms: fc.nat(1_500),
      slot: fc.nat(SLOTS - 1),
      flag: fc.boolean(),
      variant: fc.nat(9_999),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('cancel' as const),
      target: fc.nat(99),
      block: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 100, max: 600 }) },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), target: fc.nat(99) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('failHostile' as const),
      target: fc.nat(99),
      value: fc.nat(HOSTILE.length - 1),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('kill' as const), target: fc.nat(99) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('stop' as const), target: fc.nat(99) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cont' as const), target: fc.nat(99) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancelJob' as const), job: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('freeSlot' as const), slot: fc.nat(SLOTS - 1) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.nat(300) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'tick' as const }) },
);

const planArb: fc.Arbitrary<RunPlan> = fc.record({
  reuse: fc.boolean(),
  treeKill: fc.oneof(
    { weight: 4, arbitrary: fc.constant<TreeKillChoice>('auto') },
    { weight: 2, arbitrary: fc.constant<TreeKillChoice>('cookie') },
    { weight: 1, arbitrary: fc.constant<TreeKillChoice>('process-group') },
  ),
  timerFaultAt: fc.oneof(
    { weight: 2, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 12 }) },
  ),
  spawnFaults: fc.oneof(
    { weight: 3, arbitrary: fc.constant([] as number[]) },
    { weight: 2, arbitrary: fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 2 }) },
  ),
  steps: fc.array(stepArb, { minLength: 12, maxLength: 28 }),
});

const PLANS: RunPlan[] = fc.sample(planArb, { seed: SEED, numRuns: RUNS });

// ---------------------------------------------------------------------------------------------
// One run.
// ---------------------------------------------------------------------------------------------

type RequestKind = 'cancel' | 'cancelJob' | 'close' | 'fail' | 'freeSlot' | 'kill' | 'stop' | 'cont';
const STOP_KINDS = new Set<RequestKind>(['cancel', 'cancelJob', 'close']);
const FAIL_KINDS = new Set<RequestKind>(['fail', 'freeSlot']);
/** Requests that arm the cancellation ladder (signals sent from outside do not). */
const LADDER_KINDS = new Set<RequestKind>([...STOP_KINDS, ...FAIL_KINDS]);

interface Request {
  kind: RequestKind;
  /** performance.now() when it was made. */
  at: number;
  /** The task's state right before it. */
  state: ExecutionState;
  /** `fail` and `freeSlot`: the cause given (an Error, or a hostile value). */
  cause?: unknown;
}

interface TaskRecord {
  id: string;
  executor: ExecutorKey;
  behaviour: Behaviour;
  input: Record<string, unknown>;
  jobId: string;
  allocationId: string;
  task: Task;
  bornInCancelingJob: boolean;
  requests: Request[];
  path: ExecutionState[];
  outcome?: TaskOutcome;
  doneAt?: number;
  /** Escaping descendants that had to be gone when `done` resolved but were not. */
  aliveAtDone?: string[];
}

interface RunResult {
  tasks: number;
  /** `executor state` → count. */
  outcomes: Record<string, number>;
  refused: number;
  faults: Record<string, number>;
  /** Stop request → done, net of host blocks, per executor. */
  latencies: Record<ExecutorKey, number[]>;
  abandoned: number;
  probe: ConcurrencyReport;
  closeMs: number;
  /** The process executor's tree-kill mode. */
  mode: TreeKillMode;
  /** Escaping descendants started, per kind, and the tasks that started them, per executor. */
  escapes: Record<string, number>;
  escapeTasks: Record<string, number>;
  /** Escapes the mode documents that were alive at the end (the test killed them). */
  documentedEscapes: number;
  /** Hostile values handed over, per door. */
  hostile: Record<string, number>;
  /** Host blocks: how many short ones, their total, the long one. */
  blocks: { short: number; shortMs: number; long: number };
  stoppedAtClose: number;
}

interface Environment {
  baselineThreads: number;
  baselineChildren: number;
  /** Every unhandled rejection of this file's process. */
  unhandled: unknown[];
}

function describeError(error: unknown): string {
  if (error === undefined) return '';
  let name: string;
  try {
    name = String((error as { name?: unknown }).name);
  } catch {
    name = '[unreadable name]';
  }
  return ` ${name}: ${describeValue(error)}`;
}

function describeOutcome(outcome: TaskOutcome | undefined): string {
  if (!outcome) return 'not done';
  return `${outcome.state}${outcome.abandoned ? ' (abandoned)' : ''}${describeError(outcome.error)}`;
}

function describeRecord(record: TaskRecord): string {
  const requests = record.requests.map((r) => `${r.kind}@${r.state}`).join(',');
  const { id: _id, log: _log, ...input } = record.input;
  return `${record.id} ${record.executor}/${record.behaviour}(${JSON.stringify(input)}) job=${record.jobId} [${record.path.join('>')}] requests=[${requests}] → ${describeOutcome(record.outcome)}`;
}

/** What a hostile task's work ends with when nobody stops it: the state and how to check the rest. */
function hostileExpectation(record: TaskRecord): { state: 'FINISHED' | 'FAILED'; why: string } {
  const how = record.input.how as HostileHow;
  const { name } = hostileOf(record.input.variant as number);
  if (how === 'log') return { state: 'FINISHED', why: 'logging never throws into a task' };
  if (how === 'throw' || how === 'reject') return { state: 'FAILED', why: `${how} ${name}` };
  const returned = RETURNED[name];
  if (!returned) return { state: 'FAILED', why: `no expectation for returning ${name}: extend RETURNED` };
  if (returned.readsThen) return { state: 'FAILED', why: `returning ${name} reads a throwing then` };
  if (!returned.cloneable && record.executor !== 'inline') {
    return { state: 'FAILED', why: `${name} cannot be cloned back` };
  }
  return { state: 'FINISHED', why: `returning ${name}` };
}

function canReturn(record: TaskRecord): boolean {
  if (record.behaviour === 'hostile') return hostileExpectation(record).state === 'FINISHED';
  return CAN_RETURN.has(record.behaviour);
}

/** Checks the error of a hostile task that FAILED on its own; returns what is wrong, if anything. */
function checkHostileFailure(record: TaskRecord, error: Error | undefined): string | undefined {
  const how = record.input.how as HostileHow;
  const { value, name } = hostileOf(record.input.variant as number);
  if (hostileExpectation(record).state !== 'FAILED') return 'FAILED';
  if (!isError(error)) return 'FAILED without an Error';
  if (how === 'throw' || how === 'reject') {
    const thrown = (HOSTILE[value] as (typeof HOSTILE)[number]).make();
    // A real Error is kept as it is (getters and all); anything else becomes a NonErrorThrownError.
    if (!isError(thrown) && !(error instanceof NonErrorThrownError))
      return `${how} ${name}: not a NonErrorThrownError`;
    return undefined;
  }
  if (RETURNED[name]?.readsThen) return undefined;
  if (!(error instanceof SerializationError) || (error as SerializationError).what !== 'result') {
    return `returning ${name}: not a SerializationError of the result`;
  }
  return undefined;
}

/** What the rules allow for one task; returns the violations. */
function checkTask(
  record: TaskRecord,
  invoked: boolean,
  context: {
    timerFault: boolean;
    /** When the injected timer failure happened (performance.now()), if it did. */
    timerFailedAt: number | undefined;
    spawnFaults: boolean;
    blockedBetween: (from: number, to: number) => number;
  },
): string[] {
  const problems: string[] = [];
  const outcome = record.outcome;
  const say = (text: string) => problems.push(`${record.id}: ${text}`);
  if (!outcome || record.doneAt === undefined) return [`${record.id}: done never resolved`];
  if (!isTerminal(outcome.state) || outcome.state !== record.task.state) {
    say(`outcome ${outcome.state} vs task state ${record.task.state}`);
  }
  if (record.aliveAtDone && record.aliveAtDone.length > 0) {
    say(`escaping descendants alive when done resolved: ${record.aliveAtDone.join(', ')}`);
  }
  const effective = record.requests.filter((request) => !isTerminal(request.state));
  const firstFail = effective.find((request) => FAIL_KINDS.has(request.kind));
  const firstStop = effective.find((request) => STOP_KINDS.has(request.kind));
  const firstLadder = effective.find((request) => LADDER_KINDS.has(request.kind));

  // Bound: from the first request that arms the ladder to `done`, less the time the host was blocked.
  if (firstLadder) {
    const blocked = context.blockedBetween(firstLadder.at, record.doneAt);
    const took = record.doneAt - firstLadder.at - blocked;
    if (took > TIMINGS.timeoutMs + SLACK_MS) {
      say(
        `done ${Math.round(took)} ms after ${firstLadder.kind} (net of ${Math.round(blocked)} ms of host blocks)`,
      );
    }
  }
  if (outcome.abandoned) {
    if (!context.timerFault) say('abandoned in a run without a timer fault');
    if (outcome.state !== 'FAILED') say('abandoned but not FAILED');
    // A timer that cannot be armed: when the ladder starts, eager escalation; when the watchdog needs
    // one more timer to give a late hard stop its bound (a blocked host), it gives up at once.
    const lateTimerFailed =
      context.timerFailedAt !== undefined &&
      context.timerFailedAt <= record.doneAt &&
      outcome.error instanceof CancellationTimeoutError;
    if (!firstFail && !(outcome.error instanceof CancellationArmingError) && !lateTimerFailed) {
      say(`abandoned with${describeError(outcome.error)}, expected CancellationArmingError`);
    }
  }
  if (outcome.state === 'FINISHED') {
    if (record.behaviour === 'hostile' && record.input.how === 'return') {
      const { name } = hostileOf(record.input.variant as number);
      if (!RETURNED[name]?.same(outcome.result, record.executor)) {
        say(`returned ${name} but the result is ${safeString(outcome.result)}`);
      }
    } else if (outcome.result !== `done:${record.id}`) {
      say(`result ${safeString(outcome.result)}`);
    }
    if (!invoked) say('FINISHED but never invoked');
  }
  if (outcome.error instanceof ProcessSpawnError && invoked) say('spawn failed but the task was invoked');

  if (record.bornInCancelingJob) {
    if (outcome.state !== 'CANCELED') say(`born in a cancelling job but ${outcome.state}`);
    if (invoked) say('born in a cancelling job but invoked');
    return problems;
  }
  if (firstFail) {
    // fail(cause): an Error cause is the outcome's error as it is; anything else is wrapped.
    const cause = firstFail.cause;
    if (outcome.state !== 'FAILED') say(`failed from outside but ${outcome.state}`);
    else if (
      isError(cause) ? outcome.error !== cause : !(outcome.error instanceof TaskFailedExternallyError)
    ) {
      say(`FAILED with${describeError(outcome.error)}, not the external cause ${safeString(cause)}`);
    }
    if (firstFail.state === 'CREATED' && invoked) say('failed in CREATED but invoked');
    return problems;
  }
  if (firstStop) {
    if (!outcome.cancellationRequested) say('cancelled but cancellationRequested is false');
    if (firstStop.state === 'CREATED') {
      if (outcome.state !== 'CANCELED') say(`cancelled in CREATED but ${outcome.state}`);
      if (invoked) say('cancelled in CREATED but invoked');
      return problems;
    }
    const allowed = new Set<string>(['CANCELED']);
    if (canReturn(record)) allowed.add('FINISHED');
    if (outcome.abandoned) allowed.add('FAILED');
    if (!allowed.has(outcome.state)) say(`cancelled in ${firstStop.state} but ${outcome.state}`);
    return problems;
  }
  // Nobody asked it to stop (signals from outside aside): the work decides.
  if (outcome.cancellationRequested) say('cancellationRequested without a cancel request');
  const killed = effective.some((request) => request.kind === 'kill');
  if (outcome.state === 'FAILED') {
    const error = outcome.error;
    const ok =
      (record.behaviour === 'fail' && error?.message === `boom ${record.id}`) ||
      (record.behaviour === 'crash' &&
        (record.executor === 'worker'
          ? error instanceof WorkerExitedError
          : error instanceof ProcessExitedError)) ||
      (killed && error instanceof ProcessExitedError) ||
      (record.executor === 'process' && context.spawnFaults && error instanceof ProcessSpawnError);
    if (!ok && record.behaviour === 'hostile') {
      const wrong = checkHostileFailure(record, error);
      if (wrong !== undefined) say(`${wrong}:${describeError(error)}`);
    } else if (!ok) {
      say(`FAILED with${describeError(error)}`);
    }
  } else if (outcome.state === 'FINISHED') {
    if (!canReturn(record)) say(`${record.behaviour}(${safeString(record.input.how)}) FINISHED`);
  } else {
    say(`${outcome.state} without any request to stop`);
  }
  return problems;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function leavesOf(invocations: readonly InvocationRecord[], id?: string): InvocationRecord[] {
  return invocations.filter((entry) => entry.event === 'leaf' && (id === undefined || entry.id === id));
}

async function executeRun(plan: RunPlan, runIndex: number, env: Environment): Promise<RunResult> {
  const dir = tempDir('fault-injection');
  const log = join(dir.path, 'invocations.jsonl');
  const ledger = new ProcessLedger();
  ledger.failSpawnWhen((call) => plan.spawnFaults.includes(call));
  const counting = new CountingScheduler(new SystemScheduler());
  let timerFailedAt: number | undefined;
  const scheduler = new ThrowingScheduler(counting, () => {
    timerFailedAt ??= performance.now();
    return new Error('cannot create a timer (injected)');
  });
  const fatal = new RecordingFatalErrorHandler();
  const worker = new WorkerExecutor({ maxThreads: MAX_THREADS });
  const processes = new ProcessExecutor({
    maxProcesses: MAX_PROCESSES,
    killGraceMs: 100,
    reuse: plan.reuse,
    treeKill: plan.treeKill === 'auto' || MODES.includes(plan.treeKill) ? plan.treeKill : 'auto',
    spawn: ledger.spawn,
  });
  const mode = processes.treeKill;
  const runtime: TaskRuntime = createRuntime({
    numberOfSlots: SLOTS,
    executors: { inline: new InlineExecutor(), worker, process: processes },
    defaultExecutor: 'inline',
    cancellation: TIMINGS,
    fatalErrorHandler: fatal,
    scheduler,
    logger: silentLogger(),
  });
  const probe = new ConcurrencyProbe(runtime, {
    worker: { executor: worker, maxThreads: MAX_THREADS },
    process: { executor: processes, maxProcesses: MAX_PROCESSES },
    baselineThreads: env.baselineThreads,
    baselineChildren: env.baselineChildren,
    // What worker tasks spawn are children of this process too; they do not count against maxProcesses.
    executorChildren: ledger.spawned,
  });
  const unhandledBefore = env.unhandled.length;

  const records: TaskRecord[] = [];
  const byId = new Map<string, TaskRecord>();
  const jobStates = new Map<string, string>();
  const jobReports: Array<Promise<unknown>> = [];
  const refusals: string[] = [];
  const problems: string[] = [];
  const faults: Record<string, number> = {
    cancel: 0,
    fail: 0,
    failHostile: 0,
    cancelJob: 0,
    freeSlot: 0,
    kill: 0,
    stopChild: 0,
    stopDescendant: 0,
    cont: 0,
  };
  const hostile: Record<string, number> = {};
  const count = (table: Record<string, number>, key: string): void => {
    table[key] = (table[key] ?? 0) + 1;
  };
  // Host blocks, to take out of the bounds: the ladder's timers wait for the loop like everything else.
  const blocks: Array<{ start: number; end: number }> = [];
  const blockedBetween = (from: number, to: number): number =>
    blocks.reduce(
      (sum, block) => sum + Math.max(0, Math.min(to, block.end) - Math.max(from, block.start)),
      0,
    );
  const blockCounts = { short: 0, shortMs: 0, long: 0 };
  let longBlockPending = runIndex === LONG_BLOCK_RUN;
  const block = (ms: number, long: boolean): void => {
    const start = performance.now();
    blockHost(ms);
    blocks.push({ start, end: performance.now() });
    if (long) blockCounts.long++;
    else {
      blockCounts.short++;
      blockCounts.shortMs += ms;
    }
  };
  const stopped = new Set<number>();
  const stopLog: string[] = [];
  /** Escapes that may outlive their task: those the process executor's mode documents. */
  const documented = (record: TaskRecord | undefined, kind: string | undefined): boolean =>
    record?.executor === 'process' && (DOCUMENTED_ESCAPES[mode] as readonly string[]).includes(kind ?? '');

  // Slot i belongs to job-(i % 2); a freed slot is allocated again (new allocation id) when needed.
  const slots = Array.from({ length: SLOTS }, (_, index) => ({
    index,
    jobId: `job-${index % 2}`,
    allocationId: '',
    generation: 0,
    active: false,
  }));
  let closed = false;

  runtime.events.on('taskStateChanged', ({ task, to }) => byId.get(task.executionId)?.path.push(to));
  runtime.events.on('jobStateChanged', ({ jobId, to }) => jobStates.set(jobId, to));
  let firstFatalAt: number | undefined;
  // What the executors held when a task was given up: the failure message shows it.
  const atFatal: string[] = [];
  runtime.events.on('fatalError', () => {
    firstFatalAt ??= performance.now();
    atFatal.push(
      JSON.stringify({
        processes: processes.stats,
        children: processes.pids.map((pid) => procInfo(pid) ?? { pid }),
        stopped: [...stopped].map((pid) => procInfo(pid) ?? { pid }),
        threads: worker.stats,
        blockedMs: Math.round(blocks.reduce((total, b) => total + b.end - b.start, 0)),
      }),
    );
  });

  const checkSlots = (where: string): void => {
    try {
      runtime.slotTable.checkInvariants();
    } catch (error) {
      problems.push(`slot invariants after ${where}: ${(error as Error).message}`);
    }
  };
  const activate = (slot: (typeof slots)[number]): boolean => {
    if (slot.active) return true;
    // A fresh allocation id each time: a freed slot may still be RELEASING (then this is refused).
    const allocationId = `run${runIndex}-slot${slot.index}-gen${slot.generation++}`;
    try {
      runtime.slotTable.allocateSlot({ index: slot.index, jobId: slot.jobId, allocationId });
      runtime.slotTable.markSlotActive(allocationId);
      slot.allocationId = allocationId;
      slot.active = true;
      return true;
    } catch (error) {
      refusals.push(`slot ${slot.index}: ${(error as Error).name}`);
      return false;
    }
  };
  for (const slot of slots) activate(slot);
  const request = (record: TaskRecord, kind: RequestKind, cause?: unknown): void => {
    record.requests.push({
      kind,
      at: performance.now(),
      state: record.task.state,
      ...(kind === 'fail' || kind === 'freeSlot' ? { cause } : {}),
    });
  };
  const target = (index: number): TaskRecord | undefined => records[index % Math.max(1, records.length)];
  const cancel = (record: TaskRecord, blockMs: number): void => {
    faults.cancel = (faults.cancel ?? 0) + 1;
    request(record, 'cancel');
    const deafAndRunning = record.task.state === 'RUNNING' && needsHardStop(record);
    record.task.cancel();
    // The long block follows the first cancel of running work that only a hard stop ends: every
    // stage of its ladder is overdue when the host wakes up, and the hard stop must still come first.
    if (longBlockPending && deafAndRunning) {
      longBlockPending = false;
      block(LONG_BLOCK_MS, true);
    } else if (blockMs > 0) {
      block(blockMs, false);
    }
  };
  /** Process tasks RUNNING in a child that is one of `executor.pids`, with that child's pid. */
  const runningChildren = (): Array<{ record: TaskRecord; pid: number }> => {
    const pids = new Set(processes.pids);
    const invocations = readInvocations(log);
    const found: Array<{ record: TaskRecord; pid: number }> = [];
    for (const record of records) {
      if (record.executor !== 'process' || record.task.state !== 'RUNNING') continue;
      const entry = invocations.find(
        (candidate) => candidate.id === record.id && candidate.event === 'invoked' && pids.has(candidate.pid),
      );
      if (entry) found.push({ record, pid: entry.pid });
    }
    return found;
  };
  /** Sends `signal` to a pid; false when it is gone already (it ended and was reaped). */
  const signal = (pid: number, name: NodeJS.Signals): boolean => {
    try {
      process.kill(pid, name);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw error;
    }
  };

  /** Submits what a submit step describes; undefined when the slot or the runtime refused it. */
  const submit = (step: Extract<Step, { kind: 'submit' }>): TaskRecord | undefined => {
    const slot = slots[step.slot] as (typeof slots)[number];
    const behaviours = BEHAVIOURS[step.executor];
    const behaviour = behaviours[step.behaviour % behaviours.length] as Behaviour;
    const id = `r${runIndex}-t${records.length}`;
    const input: Record<string, unknown> = {
      id,
      log,
      ms: durationOf(step.executor, behaviour, step.ms),
    };
    if (behaviour === 'crash') input.how = step.flag ? 'uncaught' : 'exit';
    if (behaviour === 'hangingHook' && step.executor !== 'inline') input.syncHang = step.flag;
    if (
      step.executor === 'process' &&
      step.flag &&
      ['cooperative', 'deafYielding', 'cpuDeaf'].includes(behaviour)
    ) {
      input.grandchild = true;
    }
    if (behaviour === 'escapes') {
      input.kinds = escapeKindsOf(step.variant);
      input.deaf = step.flag;
    }
    if (behaviour === 'hostile' || behaviour === 'hostileHook') {
      const chosen = hostileOf(step.variant);
      input.variant = step.variant;
      input.value = chosen.value;
      input.how = behaviour === 'hostile' ? chosen.how : chosen.hookHow;
    }
    if (!activate(slot)) return undefined;
    const bornInCancelingJob = jobStates.get(slot.jobId) === 'CANCELING';
    let task: Task;
    try {
      task = runtime.submit({
        jobId: slot.jobId,
        allocationId: slot.allocationId,
        executionId: id,
        name: `${step.executor}/${behaviour}`,
        executor: step.executor,
        invokable: {
          module: behaviour.startsWith('hostile') ? HOSTILE_MODULE : BEHAVIOURS_MODULE,
          export: behaviour,
        },
        input,
      });
    } catch (error) {
      const fatalRefusal = error instanceof RuntimeFatalError && runtime.health === 'fatal';
      if (!fatalRefusal)
        problems.push(`submit ${id} refused: ${(error as Error).name}: ${(error as Error).message}`);
      refusals.push(`${id}: ${(error as Error).name}`);
      return undefined;
    }
    if (behaviour === 'hostile') count(hostile, input.how as string);
    if (behaviour === 'hostileHook') count(hostile, `hook-${input.how as string}`);
    const record: TaskRecord = {
      id,
      executor: step.executor,
      behaviour,
      input,
      jobId: slot.jobId,
      allocationId: slot.allocationId,
      task,
      bornInCancelingJob,
      requests: [],
      path: [task.state],
    };
    records.push(record);
    byId.set(id, record);
    void task.done.then((outcome) => {
      record.outcome = outcome;
      record.doneAt = performance.now();
      // An abandoned task's done resolves without waiting for its work: close() stops that.
      if (behaviour === 'escapes' && !outcome.abandoned && mustBeGoneAtDone(record, plan.reuse)) {
        record.aliveAtDone = leavesOf(readInvocations(log), id)
          .filter((leaf) => !documented(record, leaf.kind) && !isGone(leaf.pid))
          .map((leaf) => `${leaf.kind} ${JSON.stringify(procInfo(leaf.pid) ?? { pid: leaf.pid })}`);
      }
    });
    return record;
  };

  if (plan.timerFaultAt !== null) scheduler.failOnNth(plan.timerFaultAt);

  try {
    for (const [stepIndex, step] of plan.steps.entries()) {
      switch (step.kind) {
        case 'submit':
          submit(step);
          break;
        case 'cancel': {
          const record = target(step.target);
          if (!record) break;
          cancel(record, step.block);
          break;
        }
        case 'fail': {
          const record = target(step.target);
          if (!record) break;
          faults.fail = (faults.fail ?? 0) + 1;
          const cause = new Error(`external failure of ${record.id}`);
          request(record, 'fail', cause);
          record.task.fail(cause);
          break;
        }
        case 'failHostile': {
          const record = target(step.target);
          if (!record) break;
          faults.failHostile = (faults.failHostile ?? 0) + 1;
          count(hostile, 'fail');
          const cause = (HOSTILE[step.value] as (typeof HOSTILE)[number]).make();
          request(record, 'fail', cause);
          record.task.fail(cause);
          break;
        }
        case 'kill': {
          // SIGKILL from outside: a RUNNING process task whose child is one of `executor.pids`.
          const running = runningChildren();
          const victim = running[step.target % Math.max(1, running.length)];
          if (!victim) break;
          const at = performance.now();
          const state = victim.record.task.state;
          // It may have ended by itself (a crash, or its result) and been reaped already.
          if (!signal(victim.pid, 'SIGKILL')) break;
          stopped.delete(victim.pid);
          faults.kill = (faults.kill ?? 0) + 1;
          victim.record.requests.push({ kind: 'kill', at, state });
          break;
        }
        case 'stop': {
          // SIGSTOP from outside: a child of the process executor (working, idle with `reuse`, or
          // dying), its watchdog thread frozen with it, or a descendant a task started.
          const invocations = readInvocations(log);
          const leaves = leavesOf(invocations).filter((leaf) => !isGone(leaf.pid));
          const candidates = [...processes.pids, ...leaves.map((leaf) => leaf.pid)].filter(
            (pid) => !stopped.has(pid),
          );
          const pid = candidates[step.target % Math.max(1, candidates.length)];
          if (pid === undefined) break;
          const owner = invocations.find(
            (entry) => entry.pid === pid && (entry.event === 'invoked' || entry.event === 'leaf'),
          );
          const record = owner ? byId.get(owner.id) : undefined;
          const at = performance.now();
          const state = record?.task.state;
          if (!signal(pid, 'SIGSTOP')) break;
          stopped.add(pid);
          stopLog.push(
            `${pid} (${owner ? `${owner.id} ${owner.event}` : 'no task yet, or idle'}, ${state ?? '-'})`,
          );
          const leaf = owner?.event === 'leaf';
          faults[leaf ? 'stopDescendant' : 'stopChild'] =
            (faults[leaf ? 'stopDescendant' : 'stopChild'] ?? 0) + 1;
          if (record && state) record.requests.push({ kind: 'stop', at, state });
          break;
        }
        case 'cont': {
          const frozen = [...stopped];
          const pid = frozen[step.target % Math.max(1, frozen.length)];
          if (pid === undefined) break;
          stopped.delete(pid);
          if (!signal(pid, 'SIGCONT')) break;
          faults.cont = (faults.cont ?? 0) + 1;
          break;
        }
        case 'cancelJob': {
          const jobId = `job-${step.job}`;
          faults.cancelJob = (faults.cancelJob ?? 0) + 1;
          for (const record of records) if (record.jobId === jobId) request(record, 'cancelJob');
          jobReports.push(runtime.cancelJob(jobId));
          break;
        }
        case 'freeSlot': {
          const slot = slots[step.slot] as (typeof slots)[number];
          if (!slot.active) break;
          faults.freeSlot = (faults.freeSlot ?? 0) + 1;
          const cause = new Error(`slot ${slot.index} freed`);
          for (const record of records)
            if (record.allocationId === slot.allocationId) request(record, 'freeSlot', cause);
          runtime.slotTable.freeSlot(slot.allocationId, cause);
          slot.active = false;
          break;
        }
        case 'wait':
          await sleep(step.ms);
          break;
        case 'tick':
          await new Promise((resolve) => setImmediate(resolve));
          break;
      }
      checkSlots(`step ${stepIndex} (${step.kind})`);
    }
    // The run that owes the long block and never cancelled such work starts some and cancels it.
    if (longBlockPending) {
      // A worker: its hard stop takes the host's loop to finish (the thread's exit, the sweep).
      const executor: ExecutorKey = 'worker';
      const slot = slots.find((candidate) => jobStates.get(candidate.jobId) !== 'CANCELING');
      const deaf =
        slot &&
        submit({
          kind: 'submit',
          executor,
          behaviour: BEHAVIOURS[executor].indexOf('deafYielding'),
          ms: 1_500,
          slot: slot.index,
          flag: false,
          variant: 0,
        });
      if (deaf) {
        await until(
          () => deaf.task.state !== 'CREATED' && deaf.task.state !== 'DEPLOYING',
          'it to run',
          15_000,
        );
        if (deaf.task.state === 'RUNNING') cancel(deaf, 0);
      }
    }

    const healthBeforeClose = runtime.health;
    const stoppedAtClose = [...stopped].filter((pid) => !isGone(pid)).length;
    for (const record of records) request(record, 'close');
    const closeStart = performance.now();
    await withTimeout(runtime.close(), 20_000, 'runtime.close()');
    closed = true;
    const closeMs = performance.now() - closeStart;
    // close() resolves once every child's tree is gone and its cgroup removed.
    const cgroupsAfterClose = cgroupsLeftBy(process.pid);
    if (cgroupsAfterClose.length > 0)
      problems.push(`cgroups left after close(): ${cgroupsAfterClose.join(', ')}`);
    await withTimeout(Promise.all(records.map((record) => record.task.done)), 1_000, 'every done');
    const reports = await withTimeout(Promise.allSettled(jobReports), 1_000, 'every cancelJob');
    const report = probe.stop();
    for (const settled of reports) {
      if (settled.status === 'rejected') problems.push(`cancelJob rejected: ${String(settled.reason)}`);
    }

    // Promise 1: every task ended by the rules, in time.
    const invocations = readInvocations(log);
    const invoked = new Set(
      invocations.filter((entry) => entry.event === 'invoked').map((entry) => entry.id),
    );
    const context = {
      timerFault: plan.timerFaultAt !== null,
      timerFailedAt,
      spawnFaults: ledger.spawnFailures > 0,
      blockedBetween,
    };
    for (const record of records) problems.push(...checkTask(record, invoked.has(record.id), context));
    const abandoned = records.filter((record) => record.outcome?.abandoned).length;
    if (fatal.errors.length !== abandoned) {
      problems.push(`${fatal.errors.length} fatal errors for ${abandoned} abandoned tasks`);
    }
    // Health says 'fatal' from the first escalation on (one during close() comes after the snapshot).
    const fatalBeforeClose = firstFatalAt !== undefined && firstFatalAt < closeStart;
    if (healthBeforeClose !== (fatalBeforeClose ? 'fatal' : 'running')) {
      problems.push(
        `health ${healthBeforeClose} before close (fatal error before close: ${fatalBeforeClose})`,
      );
    }
    if (runtime.health !== 'closed') problems.push(`health after close: ${runtime.health}`);
    // A rejection nobody handled shows up a turn later at the latest.
    await new Promise((resolve) => setImmediate(resolve));
    const unhandled = env.unhandled.slice(unhandledBefore);
    if (unhandled.length > 0) {
      problems.push(`unhandled rejections: ${unhandled.map((reason) => describeValue(reason)).join('; ')}`);
    }

    // Promise 2: slots.
    checkSlots('close');
    const held = runtime.slotTable.getSlotReport().filter((entry) => entry.state !== 'FREE');
    if (held.length > 0) problems.push(`slots not FREE after close: ${JSON.stringify(held)}`);
    // A diagnose() timeout (2 s) may outlive its task a little; no timer may stay armed for good.
    try {
      await until(() => counting.live === 0, 'the runtime timers to end', DIAGNOSE_TIMEOUT_MS + 1_000);
    } catch {
      problems.push(`timers still armed after close: ${counting.describeLive().join(', ')}`);
    }
    problems.push(...report.violations);

    // Promise 3: threads, processes, escaping descendants, cookie carriers.
    if (worker.threadCount !== 0) problems.push(`worker.threadCount ${worker.threadCount} after close`);
    if (processes.stats.processes !== 0 || processes.pids.length !== 0) {
      problems.push(`process executor still holds ${JSON.stringify(processes.stats)} ${processes.pids}`);
    }
    for (const entry of invocations) {
      if (entry.event === 'escape-failed')
        problems.push(`${entry.id} could not start ${JSON.stringify(entry)}`);
    }
    // What the mode documents as escaping is the test's to kill; everything else must be gone.
    let documentedEscapes = 0;
    const workerTokens = new Set<string>();
    for (const leaf of leavesOf(invocations)) {
      for (const token of leaf.tree?.split(':') ?? [])
        if (token.startsWith('worker-')) workerTokens.add(token);
      if (documented(byId.get(leaf.id), leaf.kind)) {
        if (!isGone(leaf.pid)) {
          documentedEscapes++;
          signal(leaf.pid, 'SIGKILL');
        }
      } else {
        ledger.add(leaf.pid);
      }
    }
    for (const entry of invocations) ledger.add(entry.grandchild);
    for (const entry of invocations) if (entry.pid !== process.pid) ledger.add(entry.pid);
    try {
      await ledger.waitAllGone(2_000);
    } catch (error) {
      problems.push((error as Error).message);
    }
    const ours = (token: string): boolean =>
      token === MARKER || token.startsWith(`${process.pid}-`) || workerTokens.has(token);
    try {
      await until(() => liveCookieCarriers(ours).length === 0, 'no process to carry our tree cookies', 2_000);
    } catch {
      problems.push(
        `processes carrying our tree cookies: ${liveCookieCarriers(ours)
          .map((info) => JSON.stringify(info))
          .join(', ')}`,
      );
    }
    try {
      await until(() => osThreadCount() <= env.baselineThreads, 'the OS threads to end', 3_000);
    } catch {
      problems.push(`threads: ${osThreadCount()} > baseline ${env.baselineThreads}`);
    }

    if (problems.length > 0) {
      throw new Error(
        [
          `run ${runIndex} failed (replay: TASKWARDEN_SEED=${SEED}); ${problems.length} problem(s):`,
          ...problems.map((text) => `  - ${text}`),
          `plan: ${JSON.stringify(plan)}`,
          `tree kill ${mode}; spawn calls ${ledger.spawnCalls} (failed ${ledger.spawnFailures}), timer calls ${scheduler.calls}, refusals ${refusals.join('; ')}`,
          `SIGSTOPped: ${stopLog.join(', ') || 'none'}; at each fatal error: ${atFatal.join(' ') || 'none'}`,
          'tasks:',
          ...records.map((record) => `  ${describeRecord(record)}`),
        ].join('\n'),
      );
    }

    const latencies: Record<ExecutorKey, number[]> = { inline: [], worker: [], process: [] };
    for (const record of records) {
      const first = record.requests.find((r) => !isTerminal(r.state) && LADDER_KINDS.has(r.kind));
      if (first && record.doneAt !== undefined) {
        latencies[record.executor].push(record.doneAt - first.at - blockedBetween(first.at, record.doneAt));
      }
    }
    // A timer fault counts when the failing call was reached (plans with few cancellations may not).
    if (plan.timerFaultAt !== null && scheduler.calls >= plan.timerFaultAt) faults.timer = 1;
    if (ledger.spawnFailures > 0) faults.spawn = ledger.spawnFailures;
    faults.hostBlock = blockCounts.short + blockCounts.long;
    const outcomes: Record<string, number> = {};
    for (const record of records) {
      const key = `${record.executor} ${record.outcome?.state}${record.outcome?.abandoned ? '(abandoned)' : ''}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    const escapes: Record<string, number> = {};
    for (const leaf of leavesOf(invocations)) count(escapes, leaf.kind ?? '?');
    const escapeTasks: Record<string, number> = {};
    for (const record of records) {
      if (record.behaviour === 'escapes' && invoked.has(record.id)) count(escapeTasks, record.executor);
    }
    return {
      tasks: records.length,
      outcomes,
      refused: refusals.length,
      faults,
      latencies,
      abandoned,
      probe: report,
      closeMs,
      mode,
      escapes,
      escapeTasks,
      documentedEscapes,
      hostile,
      blocks: blockCounts,
      stoppedAtClose,
    };
  } finally {
    probe.stop();
    if (!closed)
      await withTimeout(runtime.close(), 20_000, 'runtime.close() after a failure').catch(() => undefined);
    for (const pid of stopped) signal(pid, 'SIGCONT');
    for (const entry of readInvocations(log)) {
      ledger.add(entry.grandchild);
      if (entry.pid !== process.pid) ledger.add(entry.pid);
    }
    ledger.killSurvivors();
    dir.remove();
  }
}

/** Work that ignores its signal and hook (only a hard stop ends it early). */
function needsHardStop(record: TaskRecord): boolean {
  if (record.executor === 'inline') return false;
  switch (record.behaviour) {
    case 'cpuDeaf':
    case 'deafYielding':
      return true;
    case 'escapes':
      return record.input.deaf === true;
    case 'hangingHook':
      return record.input.syncHang === true;
    default:
      return false;
  }
}

/**
 * Whether a task's escaping descendants (but what the mode documents) must be gone by its `done`:
 * a process task's, unless `reuse` may have kept its process (a task nobody asked to stop that
 * returned or threw); a worker task's when a hard stop ended it (deaf, and CANCELED).
 */
function mustBeGoneAtDone(record: TaskRecord, reuse: boolean): boolean {
  if (record.executor === 'process') {
    return (
      !reuse || record.requests.some((r) => !isTerminal(r.state) && r.kind !== 'stop' && r.kind !== 'cont')
    );
  }
  return record.executor === 'worker' && record.input.deaf === true && record.outcome?.state === 'CANCELED';
}

/** Task duration by behaviour: short for the quick ones, long enough to be caught by faults otherwise. */
function durationOf(executor: ExecutorKey, behaviour: Behaviour, raw: number): number {
  switch (behaviour) {
    case 'finish':
    case 'fail':
      return raw % 60;
    case 'crash':
      return raw % 200;
    case 'hostile':
      return raw % 600;
    case 'deafYielding':
      // Inline work cannot be hard-stopped: it must end by itself well before the watchdog.
      return executor === 'inline' ? raw % 900 : 200 + raw * 4;
    case 'cpuDeaf':
      return 100 + raw;
    default:
      return 50 + raw;
  }
}

// ---------------------------------------------------------------------------------------------

function sum(tables: Array<Record<string, number>>): Record<string, number> {
  const total: Record<string, number> = {};
  for (const table of tables) {
    for (const [key, value] of Object.entries(table)) total[key] = (total[key] ?? 0) + value;
  }
  return total;
}

describe('fault injection across inline, worker and process executors', () => {
  const env: Environment = { baselineThreads: 0, baselineChildren: 0, unhandled: [] };
  const results: RunResult[] = [];
  const onUnhandled = (reason: unknown): void => {
    env.unhandled.push(reason);
  };
  const inheritedTree = process.env[TREE_COOKIE_ENV];

  beforeAll(async () => {
    // Straight to stderr, not through vitest's console: should the process die, the seed is known.
    writeSync(2, `[fault-injection] seed ${SEED} (replay: TASKWARDEN_SEED=${SEED})\n`);
    process.env[TREE_COOKIE_ENV] = inheritedTree ? `${inheritedTree}:${MARKER}` : MARKER;
    process.on('unhandledRejection', onUnhandled);
    await warmThreadPool();
    env.baselineThreads = osThreadCount();
    env.baselineChildren = liveChildren().length;
  });

  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
    if (inheritedTree === undefined) delete process.env[TREE_COOKIE_ENV];
    else process.env[TREE_COOKIE_ENV] = inheritedTree;
    const faults = sum(results.map((result) => result.faults));
    const outcomes = sum(results.map((result) => result.outcomes));
    const totalFaults = Object.values(faults).reduce((total, n) => total + n, 0);
    const latency = (key: ExecutorKey) => {
      const values = results.flatMap((result) => result.latencies[key]);
      return `${key} n=${values.length} p50=${Math.round(percentile(values, 50))} p95=${Math.round(percentile(values, 95))} max=${Math.round(Math.max(0, ...values))} ms`;
    };
    const modes: Record<string, number> = {};
    for (const result of results) modes[result.mode] = (modes[result.mode] ?? 0) + 1;
    const blocks = results.reduce(
      (total, result) => ({
        short: total.short + result.blocks.short,
        shortMs: total.shortMs + result.blocks.shortMs,
        long: total.long + result.blocks.long,
      }),
      { short: 0, shortMs: 0, long: 0 },
    );
    console.log(
      `[fault-injection] seed ${SEED}: ${results.length} runs, ${results.reduce((s, r) => s + r.tasks, 0)} tasks ` +
        `(${results.reduce((s, r) => s + r.refused, 0)} submissions refused), ${totalFaults} faults ${JSON.stringify(faults)}, ` +
        `${results.reduce((s, r) => s + r.abandoned, 0)} abandoned; ` +
        `escaping descendants ${JSON.stringify(sum(results.map((r) => r.escapes)))} from tasks ${JSON.stringify(sum(results.map((r) => r.escapeTasks)))}, ` +
        `tree-kill modes (runs) ${JSON.stringify(modes)}, documented escapes killed by the test ${results.reduce((s, r) => s + r.documentedEscapes, 0)}; ` +
        `hostile values ${JSON.stringify(sum(results.map((r) => r.hostile)))}; ` +
        `SIGSTOP ${faults.stopChild ?? 0} children + ${faults.stopDescendant ?? 0} descendants, SIGCONT ${faults.cont ?? 0}, still stopped at close ${results.reduce((s, r) => s + r.stoppedAtClose, 0)}; ` +
        `host blocks ${blocks.short} of 100–600 ms (${Math.round(blocks.shortMs)} ms in all) + ${blocks.long} of ${LONG_BLOCK_MS} ms; ` +
        `unhandled rejections ${env.unhandled.length}; ` +
        `stop request→done (net of host blocks) ${latency('inline')}, ${latency('worker')}, ${latency('process')}; ` +
        `peak worker threads ${Math.max(0, ...results.map((r) => r.probe.maxWorkerThreads))}/${MAX_THREADS}, ` +
        `peak processes ${Math.max(0, ...results.map((r) => r.probe.maxProcesses))}/${MAX_PROCESSES} ` +
        `(OS children ${Math.max(0, ...results.map((r) => r.probe.maxChildren))}), ` +
        `peak OS threads above baseline ${Math.max(0, ...results.map((r) => r.probe.maxOsThreadsAboveBaseline))}, ` +
        `probe samples ${results.reduce((s, r) => s + r.probe.samples, 0)}; outcomes ${JSON.stringify(outcomes)}`,
    );
  });

  for (const [runIndex, plan] of PLANS.entries()) {
    // Names stay stable across seeds; the plan and the seed are in the failure message.
    it(`run ${runIndex}: the three promises hold`, async () => {
      const result = await executeRun(plan, runIndex, env);
      results.push(result);
      expect(result.probe.violations).toEqual([]);
    }, 40_000);
  }
});
