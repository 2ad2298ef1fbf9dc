import pino from 'pino';
import { toError } from '../errors.js';
import type { CancellationTimings } from '../interfaces/cancellation-strategy.js';
import type { Execution, ExecutionReporter, Executor, LaunchSpec } from '../interfaces/executor.js';
import type { InvokableReference, TaskInfo } from '../interfaces/invokable.js';
import type { Logger } from '../interfaces/logger.js';

/** One call an executor made on the reporter of a {@link launchDirectly} spec. */
export type DirectReport =
  | { readonly kind: 'attach' }
  | { readonly kind: 'started' }
  | { readonly kind: 'running' }
  | { readonly kind: 'progress'; readonly value: unknown }
  | { readonly kind: 'finished'; readonly value: unknown }
  | { readonly kind: 'failed'; readonly error: unknown };

/** How a directly launched execution ended (`ok: false` carries the reported error, normalised). */
export type DirectOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: Error };

/** Options of {@link launchDirectly}. */
export interface DirectLaunchOptions {
  /** What to run. */
  invokable: InvokableReference;
  /** The task's input. @default undefined */
  input?: unknown;
  /** Fields of `spec.task` to set. @default a fresh `direct-<n>` execution id, job `'job'`, allocation `'slot'`, name `'direct'`, attempt 1 */
  task?: Partial<TaskInfo>;
  /** `spec.cancellation`. @default 30 000 / 30 000 / 180 000 ms */
  cancellation?: Partial<CancellationTimings>;
  /** `spec.logger`. @default a silent pino logger */
  logger?: Logger;
  /** Changes the spec before it is launched (e.g. `(spec) => ({ ...spec, input: 2 })`). @default none */
  transform?: (spec: LaunchSpec) => LaunchSpec;
}

/** An execution launched without a runtime, and everything it reported. */
export interface DirectLaunch {
  /** The spec it was launched with (its `report` records into {@link DirectLaunch.reports}). */
  readonly spec: LaunchSpec;
  /** What `launch()` returned. */
  readonly execution: Execution;
  /** Every report, in order, including those after the outcome (which a runtime ignores). */
  readonly reports: readonly DirectReport[];
  /** Every progress value reported before the outcome, in order. */
  readonly progress: readonly unknown[];
  /** Resolves when the work reported `started` (or `running`, or finished); rejects if it failed first. Never unhandled. */
  readonly started: Promise<void>;
  /** Resolves when the work reported `running`; never rejects (stays pending if it never ran). */
  readonly running: Promise<void>;
  /** The first outcome reported; never rejects. */
  readonly outcome: Promise<DirectOutcome>;
  /** The first outcome as a promise: the value, or a rejection with the error. Never unhandled. */
  readonly result: Promise<unknown>;
}

let counter = 0;
const silent = pino({ level: 'silent' });

/**
 * Launches `executor` on a spec built by hand, without a runtime, and records what the execution
 * reports: for executor authors' own tests, and for the conformance suite's "directly" half. The
 * recorder behaves as the runtime's reporter does (first outcome wins) but keeps every call.
 * `launch()` throwing is not caught.
 *
 * @example
 * ```ts
 * const run = launchDirectly(new WorkerExecutor(), { invokable: { module: '/abs/echo.mjs' }, input: 1 });
 * await run.started;
 * expect(await run.result).toBe(1);
 * ```
 */
export function launchDirectly(executor: Executor, options: DirectLaunchOptions): DirectLaunch {
  const reports: DirectReport[] = [];
  const progress: unknown[] = [];
  let settled = false;
  let didStart = false;
  let resolveStarted!: () => void;
  let rejectStarted!: (error: unknown) => void;
  let resolveRunning!: () => void;
  let resolveOutcome!: (outcome: DirectOutcome) => void;
  const started = new Promise<void>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  started.catch(() => undefined);
  const running = new Promise<void>((resolve) => {
    resolveRunning = resolve;
  });
  const outcome = new Promise<DirectOutcome>((resolve) => {
    resolveOutcome = resolve;
  });
  const result = outcome.then((o) => (o.ok ? o.value : Promise.reject(o.error)));
  result.catch(() => undefined);

  const markStarted = (): void => {
    didStart = true;
    resolveStarted();
  };
  const report: ExecutionReporter = {
    attach: () => {
      reports.push({ kind: 'attach' });
    },
    started: () => {
      reports.push({ kind: 'started' });
      if (!settled) markStarted();
    },
    running: () => {
      reports.push({ kind: 'running' });
      if (settled) return;
      markStarted();
      resolveRunning();
    },
    progress: (value) => {
      reports.push({ kind: 'progress', value });
      if (!settled) progress.push(value);
    },
    finished: (value) => {
      reports.push({ kind: 'finished', value });
      if (settled) return;
      settled = true;
      markStarted();
      resolveOutcome({ ok: true, value });
    },
    failed: (error) => {
      reports.push({ kind: 'failed', error });
      if (settled) return;
      settled = true;
      if (!didStart) rejectStarted(toError(error));
      resolveOutcome({ ok: false, error: toError(error) });
    },
  };
  const id = `direct-${counter++}`;
  const spec: LaunchSpec = {
    task: {
      executionId: id,
      jobId: 'job',
      allocationId: 'slot',
      name: 'direct',
      attempt: 1,
      ...options.task,
    },
    invokable: options.invokable,
    input: options.input,
    logger: options.logger ?? silent,
    cancellation: {
      interruptIntervalMs: 30_000,
      gracePeriodMs: 30_000,
      timeoutMs: 180_000,
      ...options.cancellation,
    },
    report,
  };
  const launched = options.transform ? options.transform(spec) : spec;
  const execution = executor.launch(launched);
  return { spec: launched, execution, reports, progress, started, running, outcome, result };
}
