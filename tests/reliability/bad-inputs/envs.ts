/**
 * Runtimes the bad-input rows run against. Each has one ACTIVE slot (static index 0 of job `job`)
 * for the "still serves" task, a silent logger, `EmitOnlyFatalErrorHandler`, and short ladder
 * timings so a task that hangs is hard-stopped within a second of being cancelled.
 * @module
 */
import { fileURLToPath } from 'node:url';
import type { WorkerExecutorOptions } from '@taskwarden/executor-local';
import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import type { ProcessExecutorOptions } from '@taskwarden/executor-process';
import { ProcessExecutor } from '@taskwarden/executor-process';
import type {
  CancellationOptions,
  Executor,
  InvocationContext,
  InvokableReference,
  TaskRuntime,
} from '@taskwarden/sdk';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';

/** Absolute path of a module in `tests/reliability/bad-inputs/fixtures/`. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** A pino logger that writes nothing. */
export function silentLogger(): pino.Logger {
  return pino({ level: 'silent' });
}

/** Short real ladder timings: a task that ignores its cancel is hard-stopped 300 ms later. */
export const LADDER: CancellationOptions = {
  interruptIntervalMs: 1_000,
  gracePeriodMs: 300,
  timeoutMs: 10_000,
};

/** The job every env's slot belongs to. */
export const JOB = 'job';

/** The shared runtimes, one per executor kind. */
export type EnvName = 'inline' | 'worker' | 'process';

/** A runtime under test and what the rows need to know about it. */
export interface Env {
  readonly name: EnvName;
  readonly runtime: TaskRuntime;
  readonly jobId: string;
  /** An ACTIVE slot of {@link JOB} (static index 0). Static index 1 is free for the rows. */
  readonly allocationId: string;
  /** The executor key the "still serves" task runs on. */
  readonly executor: string;
  /** What the "still serves" task runs: it returns `{ served: input }`. */
  readonly trivial: InvokableReference;
  readonly fatalErrorHandler: EmitOnlyFatalErrorHandler;
  readonly workers: readonly WorkerExecutor[];
  readonly processes: readonly ProcessExecutor[];
}

/** Threads and child processes of the env's executors that exist now. */
export function liveResources(env: Env): number {
  let live = 0;
  for (const worker of env.workers) live += worker.threadCount;
  for (const executor of env.processes) live += executor.pids.length;
  return live;
}

/** The inline "still serves" task. */
export function trivialFunction({ input }: InvocationContext): { served: unknown } {
  return { served: input ?? true };
}

/** The module form of the "still serves" task, for isolated executors. */
export const TRIVIAL_MODULE: InvokableReference = { module: fixture('trivial.mjs') };

function build(
  name: EnvName,
  executors: Record<string, Executor>,
  executor: string,
  trivial: InvokableReference,
  defaultExecutor = executor,
): Env {
  const fatalErrorHandler = new EmitOnlyFatalErrorHandler();
  const runtime = createRuntime({
    numberOfSlots: 2,
    executors,
    defaultExecutor,
    cancellation: LADDER,
    logger: silentLogger(),
    fatalErrorHandler,
  });
  const allocationId = `${name}-slot`;
  runtime.slotTable.allocateSlot({ index: 0, jobId: JOB, allocationId });
  runtime.slotTable.markSlotActive(allocationId);
  const all = Object.values(executors);
  return {
    name,
    runtime,
    jobId: JOB,
    allocationId,
    executor,
    trivial,
    fatalErrorHandler,
    workers: all.filter((e): e is WorkerExecutor => e instanceof WorkerExecutor),
    processes: all.filter((e): e is ProcessExecutor => e instanceof ProcessExecutor),
  };
}

/** A runtime with one `InlineExecutor` (key `inline`). */
export function inlineEnv(): Env {
  return build('inline', { inline: new InlineExecutor() }, 'inline', trivialFunction);
}

/**
 * A runtime with one `WorkerExecutor` (key `worker`). `idleTimeoutMs: 0` ends a thread as soon as
 * nothing waits for it, so "no thread left" can be checked after every row.
 */
export function workerEnv(options: WorkerExecutorOptions = {}): Env {
  const worker = new WorkerExecutor({ maxThreads: 2, idleTimeoutMs: 0, ...options });
  return build('worker', { worker }, 'worker', TRIVIAL_MODULE);
}

/** A runtime with one `ProcessExecutor` (key `process`); a fresh child per task (no reuse). */
export function processEnv(options: ProcessExecutorOptions = {}): Env {
  const executor = new ProcessExecutor({ maxProcesses: 2, killGraceMs: 500, ...options });
  return build('process', { process: executor }, 'process', TRIVIAL_MODULE);
}

/**
 * A runtime with a well-configured `ProcessExecutor` (key `process`, used to prove the runtime
 * still serves) and a second one built from `options` (key `broken`), for options that pass
 * validation but cannot work (a missing `cwd`, a bad Node flag): no task can ever succeed on that
 * executor, so "the same executor still serves" cannot apply to it.
 */
export function brokenProcessEnv(options: ProcessExecutorOptions): Env {
  const good = new ProcessExecutor({ maxProcesses: 2, killGraceMs: 500 });
  const broken = new ProcessExecutor({ maxProcesses: 1, killGraceMs: 500, ...options });
  return build('process', { process: good, broken }, 'process', TRIVIAL_MODULE);
}

/**
 * A runtime with an `InlineExecutor` (key `inline`, the default executor) and a `WorkerExecutor`
 * (key `worker`, where the "still serves" task runs).
 */
export function inlineDefaultWorkerEnv(): Env {
  const worker = new WorkerExecutor({ maxThreads: 1, idleTimeoutMs: 0 });
  return build('worker', { inline: new InlineExecutor(), worker }, 'worker', TRIVIAL_MODULE, 'inline');
}

/** Waits at most `ms` for `promise`; `undefined` when it did not settle by then. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, ms, undefined);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Builds a shared env by name. */
export const SHARED_ENVS: Readonly<Record<EnvName, () => Env>> = {
  inline: () => inlineEnv(),
  worker: () => workerEnv(),
  process: () => processEnv(),
};
