/**
 * The bad-input catalogue (issue 9): every row is one bad input, where it is given, the typed
 * error it must get, how that error is reported, and the runtime it must leave behind.
 * `bad-inputs.test.ts` runs every row; `docs/bad-inputs.md` is rendered from these rows
 * (`render.ts`) and the test fails when the two differ.
 *
 * A row with `bug` set reveals a gap: it states the behaviour the rule demands and fails until
 * the gap is fixed. It is neither skipped nor weakened.
 * @module
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { InlineExecutor, WorkerExecutor, WorkerExitedError } from '@taskwarden/executor-local';
import { ProcessExecutor, ProcessExitedError, ProcessSpawnError } from '@taskwarden/executor-process';
import type {
  ExecutionState,
  InvocationContext,
  SlotReportEntry,
  Task,
  TaskDescriptor,
  TaskOutcome,
  TaskRuntime,
} from '@taskwarden/sdk';
import {
  createRuntime,
  DuplicateAllocationError,
  EmitOnlyFatalErrorHandler,
  ErrorCode,
  InvalidInvokableError,
  InvalidSlotRequestError,
  NonErrorThrownError,
  ProtocolError,
  RuntimeFatalError,
  SerializationError,
  SlotNotFoundError,
  SlotOccupiedError,
  TaskSubmissionError,
} from '@taskwarden/sdk';
import { expect } from 'vitest';
import type { Env, EnvName } from './envs.js';
import {
  brokenProcessEnv,
  fixture,
  inlineDefaultWorkerEnv,
  inlineEnv,
  JOB,
  processEnv,
  silentLogger,
  TRIVIAL_MODULE,
  within,
  workerEnv,
} from './envs.js';

/** The sections of the catalogue, in the order of the doc. */
export const CATEGORIES = {
  'runtime-options': 'createRuntime options',
  'executor-options': 'Executor options',
  'slot-requests': 'Slot requests',
  descriptors: 'Task descriptors',
  'module-references': 'Module references',
  values: 'Values that cannot cross a thread or process boundary',
  'misbehaving-work': 'Work that breaks its worker thread or child process',
  'jobs-and-close': 'cancelJob and close',
} as const;

export type Category = keyof typeof CATEGORIES;

// biome-ignore lint/suspicious/noExplicitAny: error constructors take anything
type ErrorClass = abstract new (...args: any[]) => Error;

/** What the rule demands for the row. */
export type Expectation =
  | {
      /** Thrown synchronously by the call, or the promise it returns rejects with it. */
      readonly reported: 'thrown' | 'rejected';
      readonly error: ErrorClass;
      /** The `code` (taskwarden errors). TypeError/RangeError rows name the option instead. */
      readonly code?: ErrorCode;
      /** Text the message must contain: the option or field at fault. */
      readonly mentions?: string;
      /** Fields the error must carry. */
      readonly props?: Readonly<Record<string, unknown>>;
    }
  | {
      /** The call returns a Task, whose `done` resolves FAILED with the error. */
      readonly reported: 'outcome';
      readonly error: ErrorClass;
      readonly code: ErrorCode;
      /** The state the task was in when it failed. */
      readonly failedFrom?: ExecutionState;
      readonly mentions?: string;
      readonly props?: Readonly<Record<string, unknown>>;
    }
  | {
      /** Not an error by design: the call returns this value and changes nothing. */
      readonly reported: 'returns';
      readonly value: unknown;
    };

/** What the row observed, for its own extra checks. */
export interface Observed {
  readonly error?: unknown;
  readonly task?: Task;
  readonly outcome?: TaskOutcome;
  readonly value?: unknown;
}

/** One bad input. */
export interface BadInputCase {
  /** Stable id, also the first column of the doc (`A1`, `E3-worker`, ...). */
  readonly id: string;
  readonly category: Category;
  /** The bad input, as the doc shows it (Markdown). */
  readonly input: string;
  /** The API it is given to (Markdown). */
  readonly givenTo: string;
  /** The shared runtime the row runs on, and the executor kind it concerns. */
  readonly env: EnvName;
  /** A runtime of the row's own instead of the shared one; the test closes it. */
  readonly ownEnv?: () => Env;
  readonly expect: Expectation;
  /**
   * What the runtime must do afterwards: `serves` (default) a fresh trivial task on the same
   * runtime and executor; `closed` or `fatal` for the rows about a runtime that refuses work by
   * design.
   */
  readonly afterwards?: 'serves' | 'closed' | 'fatal';
  /** Replaces the doc's "runtime afterwards" text when the default does not fit. */
  readonly afterwardsText?: string;
  readonly prepare?: (env: Env) => Promise<void> | void;
  /** Gives the bad input. Must be synchronous for `thrown` rows. */
  readonly act: (env: Env) => unknown;
  readonly check?: (env: Env, observed: Observed) => Promise<void> | void;
  /** Undoes what `prepare` set up; runs even when the row fails. */
  readonly cleanup?: (env: Env) => Promise<void> | void;
  /** When a refusal did not happen: says what happened instead (and disposes of what was made). */
  readonly onAccepted?: (env: Env, value: unknown) => Promise<string> | string;
  /** Set while the row reveals a gap: what happens today. */
  readonly bug?: string;
}

/** 30 days: more than a Node timer can wait (2^31-1 ms, about 24.8 days). */
export const THIRTY_DAYS_MS = 30 * 24 * 60 * 60 * 1_000;

/** Submits to the env's slot and executor; `overrides` replace any field. */
function submitTo(env: Env, overrides: Partial<TaskDescriptor> | Record<string, unknown> = {}): Task {
  return env.runtime.submit({
    jobId: env.jobId,
    allocationId: env.allocationId,
    executor: env.executor,
    invokable: env.trivial,
    ...overrides,
  } as TaskDescriptor);
}

/** An inline task that ends only when cancelled (rejecting with the abort reason). */
function waitsForCancel({ signal }: InvocationContext): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** An inline task that, once cancelled, takes 50 ms to stop and then returns. */
function stopsIn50msOnCancel({ signal }: InvocationContext): Promise<string> {
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => setTimeout(resolve, 50, 'stopped'), { once: true });
  });
}

function describeOutcome(outcome: TaskOutcome | undefined): string {
  if (outcome === undefined) return 'did not end within 5 s';
  const error = outcome.error as { name?: string; code?: string } | undefined;
  return (
    `ended ${outcome.state}` +
    (error ? ` with ${error.name}${error.code ? ` (${error.code})` : ''}` : '') +
    (outcome.abandoned ? ', abandoned' : '')
  );
}

/** On a runtime that accepted a bad cancellation timing: cancels a task that stops in 50 ms. */
async function cancelCooperativeTask(runtime: TaskRuntime, allocationId: string): Promise<string> {
  const task = runtime.submit({ jobId: JOB, allocationId, invokable: stopsIn50msOnCancel });
  await new Promise((resolve) => setTimeout(resolve, 10));
  task.cancel();
  const outcome = await within(task.done, 5_000);
  return (
    `a task that stops 50 ms after cancel() ${describeOutcome(outcome)}; runtime health '${runtime.health}'` +
    ' (Node fires a timer longer than 2^31-1 ms after 1 ms: the watchdog gave up at once)'
  );
}

/** Runs `createRuntime` with huge `numberOfSlots` in a child with a 64 MB heap, so a crash stays there. */
function createRuntimeInChild(numberOfSlots: string): unknown {
  const require = createRequire(import.meta.url);
  const sdk = pathToFileURL(require.resolve('@taskwarden/sdk')).href;
  const local = pathToFileURL(require.resolve('@taskwarden/executor-local')).href;
  const script = `
    const { createRuntime } = await import(${JSON.stringify(sdk)});
    const { InlineExecutor } = await import(${JSON.stringify(local)});
    try {
      const runtime = createRuntime({ numberOfSlots: ${numberOfSlots}, executors: { inline: new InlineExecutor() } });
      await runtime.close();
      console.log(JSON.stringify({ accepted: true }));
    } catch (error) {
      console.log(JSON.stringify({ name: error.name, message: error.message }));
    }`;
  const child = spawnSync(
    process.execPath,
    ['--max-old-space-size=64', '--input-type=module', '-e', script],
    {
      encoding: 'utf8',
      timeout: 30_000,
      killSignal: 'SIGKILL',
    },
  );
  const last = child.stdout.trim().split('\n').pop() ?? '';
  if (child.status === 0 && last.startsWith('{')) {
    const reported = JSON.parse(last) as { accepted?: boolean; name?: string; message?: string };
    if (reported.name !== undefined) {
      const Class = ({ TypeError, RangeError } as Record<string, ErrorConstructor>)[reported.name] ?? Error;
      throw new Class(reported.message);
    }
    return 'createRuntime accepted it (in a child with a 64 MB heap)';
  }
  const lines = child.stderr.trim().split('\n');
  const stderr = lines.find((line) => /FATAL ERROR|out of memory/i.test(line)) ?? lines[0] ?? '';
  return (
    `the process calling createRuntime died (exit code ${child.status}, signal ${child.signal}) ` +
    `building the slot table: ${stderr.trim()}`
  );
}

// ---------------------------------------------------------------------------------------------
// A. createRuntime options
// ---------------------------------------------------------------------------------------------

function runtimeOptionRow(
  id: string,
  input: string,
  options: () => unknown,
  error: ErrorClass,
  mentions: string,
  extra: Partial<BadInputCase> = {},
): BadInputCase {
  return {
    id,
    category: 'runtime-options',
    input,
    givenTo: '`createRuntime(options)`',
    env: 'inline',
    expect: { reported: 'thrown', error, mentions },
    afterwardsText: 'nothing was created; the shared inline runtime serves the next task',
    act: () => createRuntime(options() as Parameters<typeof createRuntime>[0]),
    onAccepted: async (_env, value) => {
      await (value as TaskRuntime).close();
      return 'createRuntime returned a runtime';
    },
    ...extra,
  };
}

/** Valid options with `patch` applied; every runtime made by a row is silent and never exits the process. */
function runtimeOptions(patch: Record<string, unknown>): Record<string, unknown> {
  return {
    numberOfSlots: 1,
    executors: { inline: new InlineExecutor() },
    logger: silentLogger(),
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    ...patch,
  };
}

const RUNTIME_OPTIONS: BadInputCase[] = [
  runtimeOptionRow('A1', 'no options at all', () => undefined, TypeError, 'options'),
  runtimeOptionRow(
    'A2',
    '`numberOfSlots: -1`',
    () => runtimeOptions({ numberOfSlots: -1 }),
    RangeError,
    'numberOfSlots',
  ),
  runtimeOptionRow(
    'A3',
    "`numberOfSlots: '4'` (a string)",
    () => runtimeOptions({ numberOfSlots: '4' }),
    TypeError,
    'numberOfSlots',
  ),
  {
    ...runtimeOptionRow(
      'A4',
      '`numberOfSlots: Number.MAX_SAFE_INTEGER`',
      () => undefined,
      RangeError,
      'numberOfSlots',
    ),
    act: () => createRuntimeInChild('Number.MAX_SAFE_INTEGER'),
    onAccepted: (_env, value) => String(value),
  },
  runtimeOptionRow(
    'A5',
    '`executors: {}`',
    () => runtimeOptions({ executors: {} }),
    RangeError,
    'options.executors',
  ),
  runtimeOptionRow(
    'A6',
    '`executors: { gpu: {} }` (not an Executor)',
    () => runtimeOptions({ executors: { gpu: {} } }),
    TypeError,
    'options.executors.gpu',
  ),
  runtimeOptionRow(
    'A7',
    "`defaultExecutor: 'gpu'` (not a key of `executors`)",
    () => runtimeOptions({ defaultExecutor: 'gpu' }),
    RangeError,
    'defaultExecutor',
  ),
  runtimeOptionRow(
    'A8',
    '`cancellation: { interruptIntervalMs: 0 }` (`gracePeriodMs: 0` is valid: hard stop at once)',
    () => runtimeOptions({ cancellation: { interruptIntervalMs: 0 } }),
    RangeError,
    'options.cancellation.interruptIntervalMs',
  ),
  runtimeOptionRow(
    'A9',
    '`cancellation: { gracePeriodMs: 10_000, timeoutMs: 5_000 }` (watchdog before the hard stop)',
    () => runtimeOptions({ cancellation: { gracePeriodMs: 10_000, timeoutMs: 5_000 } }),
    RangeError,
    'options.cancellation.timeoutMs',
  ),
  runtimeOptionRow(
    'A10',
    '`cancellation: { timeoutMs: 2_592_000_000 }` (30 days: more than a Node timer can wait)',
    () => runtimeOptions({ cancellation: { timeoutMs: THIRTY_DAYS_MS } }),
    RangeError,
    'options.cancellation.timeoutMs',
    {
      onAccepted: async (_env, value) => {
        const runtime = value as TaskRuntime;
        runtime.slotTable.allocateSlot({ index: 0, jobId: JOB, allocationId: 'a10' });
        runtime.slotTable.markSlotActive('a10');
        const what = await cancelCooperativeTask(runtime, 'a10');
        await runtime.close();
        return `createRuntime accepted it; ${what}`;
      },
    },
  ),
  runtimeOptionRow(
    'A11',
    '`cancellation: { gracePeriodMS: 1_000 }` (misspelt key)',
    () => runtimeOptions({ cancellation: { gracePeriodMS: 1_000 } }),
    TypeError,
    'gracePeriodMS',
    {
      onAccepted: async (_env, value) => {
        await (value as TaskRuntime).close();
        return 'createRuntime accepted it and ignored the key: the grace period stays at the default 30 000 ms';
      },
    },
  ),
  runtimeOptionRow(
    'A12',
    '`fatalErrorHandler: { onFatal() {} }` (no `onFatalError`)',
    () => runtimeOptions({ fatalErrorHandler: { onFatal() {} } }),
    TypeError,
    'options.fatalErrorHandler',
  ),
  runtimeOptionRow(
    'A13',
    '`scheduler: { schedule() {} }` (no `now`)',
    () => runtimeOptions({ scheduler: { schedule() {} } }),
    TypeError,
    'options.scheduler',
  ),
  runtimeOptionRow(
    'A14',
    '`logger: console` (not a pino logger)',
    () => runtimeOptions({ logger: console }),
    TypeError,
    'options.logger',
  ),
  runtimeOptionRow(
    'A15',
    '`cancellation: { gracePeriodMs: 1_000, timeoutMs: 2_000 }` with a `WorkerExecutor` (hard stop up to 1 500 ms)',
    () =>
      runtimeOptions({
        executors: { worker: new WorkerExecutor({ maxThreads: 1 }) },
        cancellation: { gracePeriodMs: 1_000, timeoutMs: 2_000 },
      }),
    RangeError,
    'capabilities.hardStopMs',
    {
      onAccepted: async (_env, value) => {
        await (value as TaskRuntime).close();
        return 'createRuntime accepted timings its executor cannot keep';
      },
    },
  ),
  runtimeOptionRow(
    'A16',
    '`executors: { custom }` whose `capabilities.hardStopMs` is `-1`',
    () =>
      runtimeOptions({
        executors: {
          custom: {
            name: 'custom',
            capabilities: { hardStop: true, diagnostics: false, isolation: 'none', hardStopMs: -1 },
            launch() {
              throw new Error('never launched');
            },
            close: () => Promise.resolve(),
          },
        },
      }),
    RangeError,
    'options.executors.custom.capabilities.hardStopMs',
  ),
  runtimeOptionRow(
    'A17',
    '`numberOfSlot: 4` (misspelt key)',
    () => {
      const { numberOfSlots: _, ...rest } = runtimeOptions({});
      return { ...rest, numberOfSlot: 4 };
    },
    TypeError,
    'numberOfSlot',
  ),
];

// ---------------------------------------------------------------------------------------------
// B. Executor options
// ---------------------------------------------------------------------------------------------

function executorOptionRow(
  id: string,
  kind: 'worker' | 'process',
  input: string,
  options: unknown,
  error: ErrorClass,
  mentions: string,
): BadInputCase {
  return {
    id,
    category: 'executor-options',
    input,
    givenTo: kind === 'worker' ? '`new WorkerExecutor(options)`' : '`new ProcessExecutor(options)`',
    env: kind,
    expect: { reported: 'thrown', error, mentions },
    afterwardsText: `the shared ${kind === 'worker' ? 'worker' : 'process'} runtime serves the next task; nothing left`,
    act: () =>
      kind === 'worker'
        ? new WorkerExecutor(options as ConstructorParameters<typeof WorkerExecutor>[0])
        : new ProcessExecutor(options as ConstructorParameters<typeof ProcessExecutor>[0]),
    onAccepted: async (_env, value) => {
      await (value as WorkerExecutor | ProcessExecutor).close();
      return 'the constructor accepted it';
    },
  };
}

const EXECUTOR_OPTIONS: BadInputCase[] = [
  executorOptionRow('B1', 'worker', '`maxThreads: 0`', { maxThreads: 0 }, RangeError, 'maxThreads'),
  executorOptionRow(
    'B2',
    'worker',
    '`maxThread: 4` (misspelt key)',
    { maxThread: 4 },
    TypeError,
    'maxThread',
  ),
  executorOptionRow(
    'B3',
    'worker',
    '`idleTimeoutMs: -1`',
    { idleTimeoutMs: -1 },
    RangeError,
    'idleTimeoutMs',
  ),
  executorOptionRow(
    'B4',
    'worker',
    '`resourceLimits: { maxOldGenerationSizeMb: 0 }`',
    { resourceLimits: { maxOldGenerationSizeMb: 0 } },
    RangeError,
    'resourceLimits.maxOldGenerationSizeMb',
  ),
  executorOptionRow(
    'B5',
    'worker',
    '`resourceLimits: { heapMb: 64 }` (unknown limit)',
    { resourceLimits: { heapMb: 64 } },
    TypeError,
    'resourceLimits.heapMb',
  ),
  executorOptionRow(
    'B6',
    'process',
    '`maxProcesses: 1.5`',
    { maxProcesses: 1.5 },
    RangeError,
    'options.maxProcesses',
  ),
  executorOptionRow(
    'B7',
    'process',
    '`killGraceMS: 100` (misspelt key)',
    { killGraceMS: 100 },
    TypeError,
    'killGraceMS',
  ),
  executorOptionRow(
    'B8',
    'process',
    "`execArgv: '--max-old-space-size=64'` (a string, not an array)",
    { execArgv: '--max-old-space-size=64' },
    TypeError,
    'options.execArgv',
  ),
  executorOptionRow(
    'B9',
    'process',
    '`maxMessageBytes: 1024` (below 64 KiB)',
    { maxMessageBytes: 1024 },
    RangeError,
    'options.maxMessageBytes',
  ),
  executorOptionRow(
    'B10',
    'process',
    '`killGraceMs: 2_592_000_000` (30 days)',
    { killGraceMs: THIRTY_DAYS_MS },
    RangeError,
    'options.killGraceMs',
  ),
  {
    id: 'B11',
    category: 'executor-options',
    input: "`cwd: '/does/not/exist'` (valid shape, missing directory)",
    givenTo: '`new ProcessExecutor(options)`, then a task on it',
    env: 'process',
    ownEnv: () => brokenProcessEnv({ cwd: '/does/not/exist' }),
    expect: {
      reported: 'outcome',
      error: ProcessSpawnError,
      code: ErrorCode.LAUNCH_FAILED,
      failedFrom: 'DEPLOYING',
      props: { errno: 'ENOENT' },
    },
    afterwardsText: 'serves the next task on its other `ProcessExecutor`; no process left',
    act: (env) => submitTo(env, { executor: 'broken' }),
  },
  {
    id: 'B12',
    category: 'executor-options',
    input: "`execArgv: ['--no-such-node-flag']` (valid shape, Node refuses it)",
    givenTo: '`new ProcessExecutor(options)`, then a task on it',
    env: 'process',
    ownEnv: () => brokenProcessEnv({ execArgv: ['--no-such-node-flag'] }),
    expect: {
      reported: 'outcome',
      error: ProcessExitedError,
      code: ErrorCode.PROCESS_EXITED,
      failedFrom: 'DEPLOYING',
      props: { exitCode: 9, killed: false },
      mentions: 'bad option',
    },
    afterwardsText: 'serves the next task on its other `ProcessExecutor`; no process left',
    act: (env) => submitTo(env, { executor: 'broken' }),
  },
  executorOptionRow(
    'B13',
    'process',
    "`treeKill: 'cgroups'` (not a mode)",
    { treeKill: 'cgroups' },
    RangeError,
    'options.treeKill',
  ),
  executorOptionRow('B14', 'process', '`treeKill: true`', { treeKill: true }, TypeError, 'options.treeKill'),
  executorOptionRow(
    'B15',
    'process',
    "`hostLease: 'yes'` (not a boolean)",
    { hostLease: 'yes' },
    TypeError,
    'options.hostLease',
  ),
  {
    id: 'B16',
    category: 'executor-options',
    input: '`renewHostLease(5_000)` on an executor created without `hostLease`',
    givenTo: '`processExecutor.renewHostLease(validForMs)`',
    env: 'process',
    expect: { reported: 'thrown', error: TypeError, mentions: 'hostLease' },
    afterwardsText: 'the shared process runtime serves the next task; nothing left',
    act: (env) => (env.processes[0] as ProcessExecutor).renewHostLease(5_000),
    onAccepted: () => 'renewHostLease accepted it: nothing holds that lease',
  },
  {
    id: 'B17',
    category: 'executor-options',
    input: '`renewHostLease(NaN)` on an executor with `hostLease: true`',
    givenTo: '`processExecutor.renewHostLease(validForMs)`',
    env: 'process',
    ownEnv: () => processEnv({ hostLease: true }),
    expect: { reported: 'thrown', error: RangeError, mentions: 'validForMs' },
    afterwardsText: 'the lease stands as it was: its runtime serves the next task; no process left',
    // A valid renewal first, so that the next task's child has a lease to start under.
    prepare: (env) => (env.processes[0] as ProcessExecutor).renewHostLease(60_000),
    act: (env) => (env.processes[0] as ProcessExecutor).renewHostLease(Number.NaN),
  },
];

// ---------------------------------------------------------------------------------------------
// C. Slot requests (the shared inline runtime: static slots 0 and 1, slot 0 held by the env)
// ---------------------------------------------------------------------------------------------

function invalidSlotRequest(
  id: string,
  input: string,
  request: unknown,
  field: string,
  extra: Partial<BadInputCase> = {},
): BadInputCase {
  return {
    id,
    category: 'slot-requests',
    input,
    givenTo: '`slotTable.allocateSlot(request)`',
    env: 'inline',
    expect: {
      reported: 'thrown',
      error: InvalidSlotRequestError,
      code: ErrorCode.INVALID_SLOT_REQUEST,
      props: { field },
    },
    act: (env) =>
      env.runtime.slotTable.allocateSlot(
        request as Parameters<Env['runtime']['slotTable']['allocateSlot']>[0],
      ),
    cleanup: (env) => {
      const allocationId = (request as { allocationId?: unknown } | null)?.allocationId;
      if (typeof allocationId === 'string') env.runtime.slotTable.freeSlot(allocationId);
    },
    ...extra,
  };
}

/** The report a row must leave unchanged, taken in `prepare`. */
let reportAfterPrepare: SlotReportEntry[] = [];

const SLOT_REQUESTS: BadInputCase[] = [
  invalidSlotRequest(
    'C1',
    '`index: 2` with 2 static slots',
    { index: 2, jobId: JOB, allocationId: 'c1' },
    'index',
  ),
  invalidSlotRequest(
    'C2',
    "`index: '1'` (a string)",
    { index: '1', jobId: JOB, allocationId: 'c2' },
    'index',
  ),
  invalidSlotRequest('C3', "`jobId: ''`", { index: 1, jobId: '', allocationId: 'c3' }, 'jobId'),
  invalidSlotRequest('C4', '`allocationId` missing', { index: 1, jobId: JOB }, 'allocationId'),
  invalidSlotRequest('C5', '`null` as the request', null, 'request'),
  invalidSlotRequest(
    'C6',
    '`timeoutMs: -1`',
    { index: 1, jobId: JOB, allocationId: 'c6', timeoutMs: -1 },
    'timeoutMs',
  ),
  invalidSlotRequest(
    'C7',
    '`timeoutMs: 2_592_000_000` (30 days)',
    { index: -1, jobId: JOB, allocationId: 'c7', timeoutMs: THIRTY_DAYS_MS },
    'timeoutMs',
    {
      onAccepted: async (env) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const held = env.runtime.slotTable.getSlotReport().some((entry) => entry.allocationId === 'c7');
        return `allocateSlot accepted it; 50 ms later the slot is ${held ? 'still held' : 'FREE again: the 30-day timeout fired after 1 ms'}`;
      },
    },
  ),
  {
    id: 'C8',
    category: 'slot-requests',
    input: 'an allocation id that already holds slot 1, requested again for a dynamic slot',
    givenTo: '`slotTable.allocateSlot(request)`',
    env: 'inline',
    expect: {
      reported: 'thrown',
      error: DuplicateAllocationError,
      code: ErrorCode.DUPLICATE_ALLOCATION,
      props: { allocationId: 'c8', existingIndex: 1, requestedIndex: -1 },
    },
    prepare: (env) => {
      env.runtime.slotTable.allocateSlot({ index: 1, jobId: JOB, allocationId: 'c8' });
      reportAfterPrepare = env.runtime.slotTable.getSlotReport();
    },
    act: (env) => env.runtime.slotTable.allocateSlot({ index: -1, jobId: JOB, allocationId: 'c8' }),
    // FLINK-14589: the refused request changes nothing.
    check: (env) => expect(env.runtime.slotTable.getSlotReport()).toEqual(reportAfterPrepare),
    cleanup: (env) => {
      env.runtime.slotTable.freeSlot('c8');
    },
  },
  {
    id: 'C9',
    category: 'slot-requests',
    input: 'slot 1 requested by a second allocation while another holds it',
    givenTo: '`slotTable.allocateSlot(request)`',
    env: 'inline',
    expect: {
      reported: 'thrown',
      error: SlotOccupiedError,
      code: ErrorCode.SLOT_OCCUPIED,
      props: { index: 1, occupiedBy: 'c9-holder', requestedBy: 'c9-other' },
    },
    prepare: (env) => {
      env.runtime.slotTable.allocateSlot({ index: 1, jobId: JOB, allocationId: 'c9-holder' });
      reportAfterPrepare = env.runtime.slotTable.getSlotReport();
    },
    act: (env) =>
      env.runtime.slotTable.allocateSlot({ index: 1, jobId: 'other-job', allocationId: 'c9-other' }),
    check: (env) => expect(env.runtime.slotTable.getSlotReport()).toEqual(reportAfterPrepare),
    cleanup: (env) => {
      env.runtime.slotTable.freeSlot('c9-holder');
      env.runtime.slotTable.freeSlot('c9-other');
    },
  },
  {
    id: 'C10',
    category: 'slot-requests',
    input: "`markSlotActive('never-allocated')`",
    givenTo: '`slotTable.markSlotActive(allocationId)`',
    env: 'inline',
    expect: {
      reported: 'thrown',
      error: SlotNotFoundError,
      code: ErrorCode.SLOT_NOT_FOUND,
      props: { allocationId: 'never-allocated' },
    },
    act: (env) => env.runtime.slotTable.markSlotActive('never-allocated'),
  },
  {
    id: 'C11',
    category: 'slot-requests',
    input: '`markSlotInactive(activeId, NaN)`',
    givenTo: '`slotTable.markSlotInactive(allocationId, timeoutMs)`',
    env: 'inline',
    expect: {
      reported: 'thrown',
      error: InvalidSlotRequestError,
      code: ErrorCode.INVALID_SLOT_REQUEST,
      props: { field: 'timeoutMs' },
    },
    act: (env) => env.runtime.slotTable.markSlotInactive(env.allocationId, Number.NaN),
    check: (env) =>
      expect(env.runtime.slotTable.getSlotReport()[0]).toMatchObject({
        state: 'ACTIVE',
        allocationId: env.allocationId,
      }),
  },
  {
    id: 'C12',
    category: 'slot-requests',
    input: '`markSlotInactive(activeId, 2_592_000_000)` (30 days)',
    givenTo: '`slotTable.markSlotInactive(allocationId, timeoutMs)`',
    env: 'inline',
    expect: {
      reported: 'thrown',
      error: InvalidSlotRequestError,
      code: ErrorCode.INVALID_SLOT_REQUEST,
      props: { field: 'timeoutMs' },
    },
    prepare: (env) => {
      env.runtime.slotTable.allocateSlot({ index: 1, jobId: JOB, allocationId: 'c12' });
      env.runtime.slotTable.markSlotActive('c12');
    },
    act: (env) => env.runtime.slotTable.markSlotInactive('c12', THIRTY_DAYS_MS),
    onAccepted: async (env) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const held = env.runtime.slotTable.getSlotReport().some((entry) => entry.allocationId === 'c12');
      return `markSlotInactive accepted it; 50 ms later the slot is ${held ? 'still held' : 'FREE: the 30-day timeout fired after 1 ms'}`;
    },
    cleanup: (env) => {
      env.runtime.slotTable.freeSlot('c12');
    },
  },
  {
    id: 'C13',
    category: 'slot-requests',
    input: "`markSlotInactive('never-allocated', 1_000)`",
    givenTo: '`slotTable.markSlotInactive(allocationId, timeoutMs)`',
    env: 'inline',
    expect: { reported: 'thrown', error: SlotNotFoundError, code: ErrorCode.SLOT_NOT_FOUND },
    act: (env) => env.runtime.slotTable.markSlotInactive('never-allocated', 1_000),
  },
  {
    id: 'C14',
    category: 'slot-requests',
    input: '`freeSlot(undefined)` (e.g. a misspelt property)',
    givenTo: '`slotTable.freeSlot(allocationId)`',
    env: 'inline',
    expect: {
      reported: 'thrown',
      error: InvalidSlotRequestError,
      code: ErrorCode.INVALID_SLOT_REQUEST,
      props: { field: 'allocationId' },
    },
    act: (env) => env.runtime.slotTable.freeSlot(undefined as unknown as string),
    onAccepted: (_env, value) => `freeSlot returned ${String(value)} and freed nothing`,
  },
  {
    id: 'C15',
    category: 'slot-requests',
    input: "`freeSlot('never-allocated')` (a late or repeated free)",
    givenTo: '`slotTable.freeSlot(allocationId)`',
    env: 'inline',
    expect: { reported: 'returns', value: -1 },
    act: (env) => env.runtime.slotTable.freeSlot('never-allocated'),
  },
  invalidSlotRequest(
    'C16',
    '`timeout: 1_000` (misspelt `timeoutMs`: the slot would never time out)',
    { index: 1, jobId: JOB, allocationId: 'c16', timeout: 1_000 },
    'timeout',
    {
      onAccepted: (env) => {
        const held = env.runtime.slotTable.getSlotReport().some((entry) => entry.allocationId === 'c16');
        return `allocateSlot accepted it and ignored the key (slot ${held ? 'held with no timeout' : 'not held'})`;
      },
    },
  ),
];

// ---------------------------------------------------------------------------------------------
// D. Task descriptors
// ---------------------------------------------------------------------------------------------

function invalidDescriptor(
  id: string,
  input: string,
  overrides: Record<string, unknown>,
  extra: Partial<BadInputCase> = {},
  code: ErrorCode = ErrorCode.INVALID_DESCRIPTOR,
): BadInputCase {
  return {
    id,
    category: 'descriptors',
    input,
    givenTo: '`runtime.submit(descriptor)`',
    env: 'inline',
    expect: { reported: 'thrown', error: TaskSubmissionError, code },
    act: (env) => submitTo(env, overrides),
    ...extra,
  };
}

let firstTask: Task | undefined;

const DESCRIPTORS: BadInputCase[] = [
  invalidDescriptor(
    'D1',
    '`null` as the descriptor',
    {},
    { act: (env) => env.runtime.submit(null as never) },
  ),
  invalidDescriptor('D2', "`jobId: ''`", { jobId: '' }),
  invalidDescriptor('D3', '`executionId: 42` (a number)', { executionId: 42 }),
  invalidDescriptor(
    'D4',
    "`allocationId: 'no-such-allocation'`",
    { allocationId: 'no-such-allocation' },
    {},
    ErrorCode.NO_ACTIVE_SLOT,
  ),
  invalidDescriptor(
    'D5',
    'the allocation id of a slot that is ALLOCATED but not ACTIVE',
    { allocationId: 'd5-allocated' },
    {
      prepare: (env) => {
        env.runtime.slotTable.allocateSlot({ index: 1, jobId: JOB, allocationId: 'd5-allocated' });
      },
      cleanup: (env) => {
        env.runtime.slotTable.freeSlot('d5-allocated');
      },
    },
    ErrorCode.NO_ACTIVE_SLOT,
  ),
  invalidDescriptor(
    'D6',
    'the ACTIVE slot of another job',
    { jobId: 'other-job' },
    {},
    ErrorCode.NO_ACTIVE_SLOT,
  ),
  invalidDescriptor(
    'D7',
    "`executor: 'gpu'` (not a key of `executors`)",
    { executor: 'gpu' },
    {},
    ErrorCode.UNKNOWN_EXECUTOR,
  ),
  invalidDescriptor('D8', "`invokable: 'resize'` (a string)", { invokable: 'resize' }),
  invalidDescriptor('D9', '`invokable: { run() {} }` (no `invoke`)', { invokable: { run() {} } }),
  invalidDescriptor('D10', "`invokable: { module: '' }`", { invokable: { module: '' } }),
  invalidDescriptor(
    'D11',
    'a function given to the `WorkerExecutor` (only `{ module, export? }` crosses to a thread)',
    { invokable: () => 'never' },
    { env: 'worker', givenTo: "`runtime.submit({ executor: 'worker', ... })`" },
  ),
  invalidDescriptor(
    'D12',
    'an object with `invoke` given to the `ProcessExecutor`',
    { invokable: { invoke: () => 'never' } },
    { env: 'process', givenTo: "`runtime.submit({ executor: 'process', ... })`" },
  ),
  invalidDescriptor(
    'D13',
    '`cancellation: { gracePeriodMs: 10_000, timeoutMs: 1_000 }`',
    { cancellation: { gracePeriodMs: 10_000, timeoutMs: 1_000 } },
    {
      expect: {
        reported: 'thrown',
        error: TaskSubmissionError,
        code: ErrorCode.INVALID_DESCRIPTOR,
        mentions: 'cancellation.timeoutMs',
      },
    },
  ),
  invalidDescriptor(
    'D14',
    '`cancellation: { interruptIntervalMs: -5 }`',
    { cancellation: { interruptIntervalMs: -5 } },
    {
      expect: {
        reported: 'thrown',
        error: TaskSubmissionError,
        code: ErrorCode.INVALID_DESCRIPTOR,
        mentions: 'cancellation.interruptIntervalMs',
      },
    },
  ),
  invalidDescriptor(
    'D15',
    '`cancellation: { timeoutMs: 2_592_000_000 }` (30 days)',
    { invokable: stopsIn50msOnCancel, cancellation: { timeoutMs: THIRTY_DAYS_MS } },
    {
      expect: {
        reported: 'thrown',
        error: TaskSubmissionError,
        code: ErrorCode.INVALID_DESCRIPTOR,
        mentions: 'cancellation.timeoutMs',
      },
      // A runtime of its own: when accepted, cancelling the task turns the runtime fatal.
      ownEnv: () => inlineEnv(),
      onAccepted: async (env, value) => {
        const task = value as Task;
        await new Promise((resolve) => setTimeout(resolve, 10));
        task.cancel();
        const outcome = await within(task.done, 5_000);
        return (
          `submit accepted it; a task that stops 50 ms after cancel() ${describeOutcome(outcome)}; runtime ` +
          `health '${env.runtime.health}' (the 30-day watchdog fired after 1 ms)`
        );
      },
    },
  ),
  invalidDescriptor('D16', '`signal: { aborted: false }` (not an AbortSignal)', {
    signal: { aborted: false },
  }),
  invalidDescriptor('D17', '`attempt: 0`', { attempt: 0 }),
  invalidDescriptor(
    'D18',
    'the `executionId` of a task that is still running',
    { executionId: 'd18-dup' },
    {
      prepare: (env) => {
        firstTask = submitTo(env, { executionId: 'd18-dup', invokable: waitsForCancel });
      },
      // The first task is untouched by the refused duplicate.
      check: (env) => {
        expect(env.runtime.getTask('d18-dup')).toBe(firstTask);
        expect(firstTask?.state).not.toMatch(/FINISHED|CANCELED|FAILED/);
      },
      cleanup: async () => {
        firstTask?.cancel();
        expect((await firstTask?.done)?.state).toBe('CANCELED');
      },
    },
    ErrorCode.DUPLICATE_EXECUTION_ID,
  ),
  invalidDescriptor(
    'D19',
    'any descriptor, after `runtime.close()`',
    {},
    {
      ownEnv: () => inlineEnv(),
      afterwards: 'closed',
      prepare: async (env) => {
        await env.runtime.close();
      },
    },
    ErrorCode.RUNTIME_CLOSED,
  ),
  {
    id: 'D20',
    category: 'descriptors',
    input: "any descriptor, while the runtime's health is `'fatal'`",
    givenTo: '`runtime.submit(descriptor)`',
    env: 'inline',
    ownEnv: () => inlineEnv(),
    afterwards: 'fatal',
    expect: { reported: 'thrown', error: RuntimeFatalError, code: ErrorCode.RUNTIME_FATAL },
    // A deaf task whose watchdog gives up after 80 ms makes the runtime fatal.
    prepare: async (env) => {
      const deaf = submitTo(env, {
        invokable: () => new Promise(() => {}),
        cancellation: { interruptIntervalMs: 20, gracePeriodMs: 40, timeoutMs: 80 },
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
      deaf.cancel();
      expect(await deaf.done).toMatchObject({ state: 'FAILED', abandoned: true });
      expect(env.runtime.health).toBe('fatal');
    },
    act: (env) => submitTo(env),
  },
  {
    id: 'D21',
    category: 'descriptors',
    input: "`executer: 'worker'` (misspelt key)",
    givenTo: '`runtime.submit(descriptor)`',
    env: 'worker',
    // Inline is the default executor here; the misspelt key names the worker.
    ownEnv: () => inlineDefaultWorkerEnv(),
    expect: {
      reported: 'thrown',
      error: TaskSubmissionError,
      code: ErrorCode.INVALID_DESCRIPTOR,
      mentions: 'executer',
    },
    act: (env) => submitTo(env, { executor: undefined, executer: 'worker', invokable: TRIVIAL_MODULE }),
    onAccepted: async (_env, value) => {
      const task = value as Task;
      const outcome = await within(task.done, 5_000);
      return `submit accepted it and ran the module on executor '${task.executor}' (the default, in the host), not in a worker thread: it ${describeOutcome(outcome)}`;
    },
  },
  invalidDescriptor(
    'D22',
    '`cancellation: { gracePeriodMs: 1_000, timeoutMs: 1_200 }` on the `ProcessExecutor` (hard stop up to 1 000 ms)',
    { cancellation: { gracePeriodMs: 1_000, timeoutMs: 1_200 } },
    {
      env: 'process',
      givenTo: "`runtime.submit({ executor: 'process', cancellation })`",
      expect: {
        reported: 'thrown',
        error: TaskSubmissionError,
        code: ErrorCode.INVALID_DESCRIPTOR,
        mentions: 'capabilities.hardStopMs',
      },
    },
  ),
];

// ---------------------------------------------------------------------------------------------
// E. Module references, on every executor
// ---------------------------------------------------------------------------------------------

const MODULE_REFERENCES: BadInputCase[] = [];
for (const kind of ['inline', 'worker', 'process'] as const) {
  const row = (
    n: number,
    input: string,
    invokable: Record<string, string>,
    mentions: string,
    failedFrom: ExecutionState = 'DEPLOYING',
    extra: Partial<BadInputCase> = {},
  ): BadInputCase => ({
    id: `E${n}-${kind}`,
    category: 'module-references',
    input,
    givenTo: `\`runtime.submit({ executor: '${kind}', invokable })\``,
    env: kind,
    expect: {
      reported: 'outcome',
      error: InvalidInvokableError,
      code: ErrorCode.INVALID_INVOKABLE,
      failedFrom,
      mentions,
    },
    act: (env) => submitTo(env, { invokable }),
    ...extra,
  });
  MODULE_REFERENCES.push(
    row(1, "`{ module: './trivial.mjs' }` (relative path)", { module: './trivial.mjs' }, 'relative'),
    row(
      2,
      '`{ module: <absolute path of a missing file> }`',
      { module: fixture('no-such-module.mjs') },
      'no-such-module.mjs',
    ),
    row(
      3,
      "`{ module: trivial.mjs, export: 'nope' }` (no such export)",
      { module: fixture('trivial.mjs'), export: 'nope' },
      "no export 'nope'",
    ),
    row(
      4,
      '`export const notInvokable = 42`',
      { module: fixture('shapes.mjs'), export: 'notInvokable' },
      'not an invokable',
    ),
    row(
      5,
      'a module that throws while it is imported',
      { module: fixture('throws-at-import.mjs') },
      'this module refuses to load',
    ),
    row(
      6,
      'a class with `invoke` whose constructor throws',
      { module: fixture('shapes.mjs'), export: 'ThrowingConstructor' },
      'constructing',
    ),
    row(
      7,
      'a class without `invoke` (`export class NoInvokeMethod { run() {} }`)',
      { module: fixture('shapes.mjs'), export: 'NoInvokeMethod' },
      'NoInvokeMethod',
      'DEPLOYING',
      {},
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// F. Values that cannot cross a thread or process boundary
// ---------------------------------------------------------------------------------------------

let spawnedBefore = 0;

const VALUES: BadInputCase[] = [];
for (const kind of ['worker', 'process'] as const) {
  const noProcessTaken: Partial<BadInputCase> =
    kind === 'process'
      ? {
          prepare: (env) => {
            spawnedBefore = (env.processes[0] as ProcessExecutor).stats.spawned;
          },
          // Refused before any process was taken or spawned.
          check: (env) => expect((env.processes[0] as ProcessExecutor).stats.spawned).toBe(spawnedBefore),
        }
      : {};
  const input = (n: number, text: string, value: () => unknown): BadInputCase => ({
    id: `F${n}-${kind}`,
    category: 'values',
    input: text,
    givenTo: `\`runtime.submit({ executor: '${kind}', input })\``,
    env: kind,
    expect: {
      reported: 'outcome',
      error: SerializationError,
      code: ErrorCode.SERIALIZATION_FAILED,
      failedFrom: 'DEPLOYING',
      props: { what: 'input' },
    },
    act: (env) => submitTo(env, { input: value() }),
    ...noProcessTaken,
  });
  const result = (n: number, text: string, exportName: string): BadInputCase => ({
    id: `F${n}-${kind}`,
    category: 'values',
    input: text,
    givenTo: `the ${kind === 'worker' ? 'worker' : 'child'}'s \`invoke\` return value`,
    env: kind,
    expect: {
      reported: 'outcome',
      error: SerializationError,
      code: ErrorCode.SERIALIZATION_FAILED,
      failedFrom: 'RUNNING',
      props: { what: 'result' },
    },
    act: (env) => submitTo(env, { invokable: { module: fixture('misbehaving.mjs'), export: exportName } }),
  });
  VALUES.push(
    input(1, '`input: { callback() {} }` (a function inside)', () => ({ callback() {} })),
    input(2, "`input: Symbol('x')`", () => Symbol('x')),
    input(3, '`input: new WeakMap()`', () => new WeakMap()),
    input(4, '`input: { get x() { throw } }` (a getter that throws while cloned)', () => ({
      get x(): never {
        throw new Error('getter refuses');
      },
    })),
    result(5, 'a result with a function inside (`{ callback() {} }`)', 'returnsFunction'),
    result(6, 'a result that is a Symbol', 'returnsSymbol'),
  );
}
VALUES.push({
  id: 'F7-process',
  category: 'values',
  input: 'a 100 kB input with `maxMessageBytes: 65_536`',
  givenTo: "`runtime.submit({ executor: 'process', input })`",
  env: 'process',
  ownEnv: () => processEnv({ maxMessageBytes: 65_536 }),
  expect: {
    reported: 'outcome',
    error: SerializationError,
    code: ErrorCode.SERIALIZATION_FAILED,
    failedFrom: 'DEPLOYING',
    props: { what: 'input' },
    mentions: 'maxMessageBytes',
  },
  act: (env) => submitTo(env, { input: 'x'.repeat(100_000) }),
  check: (env) => expect((env.processes[0] as ProcessExecutor).stats.spawned).toBe(0),
});

// ---------------------------------------------------------------------------------------------
// G. Work that breaks its worker thread or child process
// ---------------------------------------------------------------------------------------------

function misbehaving(
  id: string,
  kind: 'worker' | 'process',
  input: string,
  invokable: Record<string, string>,
  taskInput: unknown,
  expectation: Extract<Expectation, { reported: 'outcome' }>,
  extra: Partial<BadInputCase> = {},
): BadInputCase {
  return {
    id,
    category: 'misbehaving-work',
    input,
    givenTo: kind === 'worker' ? 'a task on the `WorkerExecutor`' : 'a task on the `ProcessExecutor`',
    env: kind,
    expect: expectation,
    act: (env) => submitTo(env, { invokable, input: taskInput }),
    ...extra,
  };
}

const MISBEHAVING = fixture('misbehaving.mjs');
const causeMentions =
  (text: string) =>
  (_env: Env, observed: Observed): void => {
    expect(String((observed.outcome?.error?.cause as Error | undefined)?.message)).toContain(text);
  };

const MISBEHAVING_WORK: BadInputCase[] = [
  misbehaving(
    'G1',
    'worker',
    '`process.exit(7)` in the middle of the task',
    { module: MISBEHAVING, export: 'exitsMidTask' },
    7,
    {
      reported: 'outcome',
      error: WorkerExitedError,
      code: ErrorCode.WORKER_EXITED,
      failedFrom: 'RUNNING',
      props: { exitCode: 7 },
    },
  ),
  misbehaving(
    'G2',
    'worker',
    'an uncaught exception (thrown from a timer)',
    { module: MISBEHAVING, export: 'uncaught' },
    undefined,
    {
      reported: 'outcome',
      error: WorkerExitedError,
      code: ErrorCode.WORKER_EXITED,
      failedFrom: 'RUNNING',
      props: { exitCode: 1 },
    },
    { check: causeMentions('uncaught in a timer') },
  ),
  misbehaving(
    'G3',
    'worker',
    'exhausts its heap under `resourceLimits: { maxOldGenerationSizeMb: 32 }`',
    { module: MISBEHAVING, export: 'exhaustHeap' },
    undefined,
    {
      reported: 'outcome',
      error: WorkerExitedError,
      code: ErrorCode.WORKER_EXITED,
      failedFrom: 'RUNNING',
      mentions: 'memory',
    },
    { ownEnv: () => workerEnv({ resourceLimits: { maxOldGenerationSizeMb: 32 } }) },
  ),
  misbehaving(
    'G4',
    'worker',
    "posts `[99, 1]` (an unknown message kind) on the executor's channel",
    { module: fixture('garbage-worker-channel.mjs') },
    'unknown-kind',
    {
      reported: 'outcome',
      error: ProtocolError,
      code: ErrorCode.PROTOCOL_ERROR,
      failedFrom: 'RUNNING',
      mentions: 'malformed message',
    },
  ),
  misbehaving(
    'G5',
    'worker',
    "posts `{ type: 'result' }` (not a tuple) on the executor's channel",
    { module: fixture('garbage-worker-channel.mjs') },
    'not-a-tuple',
    {
      reported: 'outcome',
      error: ProtocolError,
      code: ErrorCode.PROTOCOL_ERROR,
      failedFrom: 'RUNNING',
      mentions: 'malformed message',
    },
  ),
  misbehaving(
    'G6',
    'worker',
    "closes the executor's channel (`workerData.port.close()`), then returns",
    { module: fixture('garbage-worker-channel.mjs') },
    'close-port',
    { reported: 'outcome', error: ProtocolError, code: ErrorCode.PROTOCOL_ERROR, failedFrom: 'RUNNING' },
    {
      ownEnv: () => workerEnv(),
    },
  ),
  misbehaving(
    'G7',
    'process',
    'writes raw bytes on its control pipe (fd 3)',
    { module: fixture('garbage-control-pipe.mjs') },
    'raw',
    {
      reported: 'outcome',
      error: ProtocolError,
      code: ErrorCode.PROTOCOL_ERROR,
      failedFrom: 'RUNNING',
      mentions: 'malformed frame',
    },
  ),
  misbehaving(
    'G8',
    'process',
    'writes a well-framed message of the wrong shape on its control pipe',
    { module: fixture('garbage-control-pipe.mjs') },
    'shape',
    {
      reported: 'outcome',
      error: ProtocolError,
      code: ErrorCode.PROTOCOL_ERROR,
      failedFrom: 'RUNNING',
      mentions: 'malformed message',
    },
  ),
  misbehaving(
    'G9',
    'process',
    'announces a 512 MiB frame on its control pipe',
    { module: fixture('garbage-control-pipe.mjs') },
    'oversize',
    {
      reported: 'outcome',
      error: ProtocolError,
      code: ErrorCode.PROTOCOL_ERROR,
      failedFrom: 'RUNNING',
      mentions: 'maxMessageBytes',
    },
  ),
  misbehaving(
    'G10',
    'process',
    '`process.exit(7)` in the middle of the task',
    { module: MISBEHAVING, export: 'exitsMidTask' },
    7,
    {
      reported: 'outcome',
      error: ProcessExitedError,
      code: ErrorCode.PROCESS_EXITED,
      failedFrom: 'RUNNING',
      props: { exitCode: 7, signal: null, killed: false },
    },
  ),
  misbehaving(
    'G11',
    'process',
    "sends itself `SIGKILL` (`process.kill(process.pid, 'SIGKILL')`)",
    { module: MISBEHAVING, export: 'killsItself' },
    undefined,
    {
      reported: 'outcome',
      error: ProcessExitedError,
      code: ErrorCode.PROCESS_EXITED,
      failedFrom: 'RUNNING',
      props: { exitCode: null, signal: 'SIGKILL', killed: false },
    },
  ),
  misbehaving(
    'G12',
    'process',
    'an uncaught exception (thrown from a timer)',
    { module: MISBEHAVING, export: 'uncaught' },
    undefined,
    {
      reported: 'outcome',
      error: ProcessExitedError,
      code: ErrorCode.PROCESS_EXITED,
      failedFrom: 'RUNNING',
      props: { exitCode: 1 },
    },
    { check: causeMentions('uncaught in a timer') },
  ),
  misbehaving(
    'G13',
    'process',
    "exhausts its heap under `execArgv: ['--max-old-space-size=32']`",
    { module: MISBEHAVING, export: 'exhaustHeap' },
    undefined,
    {
      reported: 'outcome',
      error: ProcessExitedError,
      code: ErrorCode.PROCESS_EXITED,
      failedFrom: 'RUNNING',
      props: { killed: false },
    },
    { ownEnv: () => processEnv({ execArgv: ['--max-old-space-size=32'] }) },
  ),
  misbehaving(
    'G14',
    'process',
    'closes its control pipe (`closeSync(3)`) and keeps running',
    { module: fixture('garbage-control-pipe.mjs') },
    'close',
    { reported: 'outcome', error: ProtocolError, code: ErrorCode.PROTOCOL_ERROR, failedFrom: 'RUNNING' },
    {
      ownEnv: () => processEnv(),
    },
  ),
  misbehaving(
    'G15-worker',
    'worker',
    "`throw 'a plain string'`",
    { module: MISBEHAVING, export: 'throwsString' },
    undefined,
    {
      reported: 'outcome',
      error: NonErrorThrownError,
      code: ErrorCode.NON_ERROR_THROWN,
      failedFrom: 'RUNNING',
      props: { value: 'a plain string' },
    },
  ),
  misbehaving(
    'G15-process',
    'process',
    "`throw 'a plain string'`",
    { module: MISBEHAVING, export: 'throwsString' },
    undefined,
    {
      reported: 'outcome',
      error: NonErrorThrownError,
      code: ErrorCode.NON_ERROR_THROWN,
      failedFrom: 'RUNNING',
      props: { value: 'a plain string' },
    },
  ),
];

// ---------------------------------------------------------------------------------------------
// H. cancelJob and close
// ---------------------------------------------------------------------------------------------

let pendingTask: Task | undefined;

const JOBS_AND_CLOSE: BadInputCase[] = [
  {
    id: 'H1',
    category: 'jobs-and-close',
    input: "`cancelJob('')`",
    givenTo: '`runtime.cancelJob(jobId)`',
    env: 'inline',
    expect: {
      reported: 'rejected',
      error: TaskSubmissionError,
      code: ErrorCode.INVALID_DESCRIPTOR,
      mentions: 'jobId',
    },
    act: (env) => env.runtime.cancelJob(''),
  },
  {
    id: 'H2',
    category: 'jobs-and-close',
    input: '`cancelJob(42)` (a number)',
    givenTo: '`runtime.cancelJob(jobId)`',
    env: 'inline',
    expect: {
      reported: 'rejected',
      error: TaskSubmissionError,
      code: ErrorCode.INVALID_DESCRIPTOR,
      mentions: 'jobId',
    },
    act: (env) => env.runtime.cancelJob(42 as unknown as string),
  },
  {
    id: 'H3',
    category: 'jobs-and-close',
    input: "`close('now')`",
    givenTo: '`runtime.close(options)`',
    env: 'inline',
    ownEnv: () => inlineEnv(),
    expect: { reported: 'rejected', error: TypeError, mentions: 'options' },
    act: (env) => env.runtime.close('now' as never),
  },
  {
    id: 'H4',
    category: 'jobs-and-close',
    input: '`close({ graceMs: -1 })`',
    givenTo: '`runtime.close(options)`',
    env: 'inline',
    ownEnv: () => inlineEnv(),
    expect: { reported: 'rejected', error: RangeError, mentions: 'graceMs' },
    act: (env) => env.runtime.close({ graceMs: -1 }),
  },
  {
    id: 'H5',
    category: 'jobs-and-close',
    input: '`close({ graceMs: 2_592_000_000 })` (30 days)',
    givenTo: '`runtime.close(options)`',
    env: 'worker',
    ownEnv: () => workerEnv(),
    expect: { reported: 'rejected', error: RangeError, mentions: 'graceMs' },
    // A worker task that ignores its cancel and returns after 150 ms, well inside its ladder's grace.
    prepare: async (env) => {
      pendingTask = submitTo(env, {
        invokable: { module: MISBEHAVING, export: 'finishesDespiteCancel' },
        input: 150,
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
    },
    act: (env) => env.runtime.close({ graceMs: THIRTY_DAYS_MS }),
    onAccepted: async () => {
      const outcome = await pendingTask?.done;
      return (
        'close accepted it; the grace timer overflowed to 1 ms: a task that would have returned 100 ms later ' +
        describeOutcome(outcome)
      );
    },
    cleanup: async () => {
      await pendingTask?.done;
    },
  },
  {
    id: 'H6',
    category: 'jobs-and-close',
    input: '`close({ grace: 0 })` (misspelt `graceMs`)',
    givenTo: '`runtime.close(options)`',
    env: 'inline',
    ownEnv: () => inlineEnv(),
    expect: { reported: 'rejected', error: TypeError, mentions: "'grace'" },
    afterwardsText: 'nothing was closed: the runtime serves the next task',
    act: (env) => env.runtime.close({ grace: 0 } as never),
  },
];

/** Every row, in doc order. */
export const CASES: readonly BadInputCase[] = [
  ...RUNTIME_OPTIONS,
  ...EXECUTOR_OPTIONS,
  ...SLOT_REQUESTS,
  ...DESCRIPTORS,
  ...MODULE_REFERENCES,
  ...VALUES,
  ...MISBEHAVING_WORK,
  ...JOBS_AND_CLOSE,
];
