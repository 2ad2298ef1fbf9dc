import type { Execution, Executor, ExecutorCapabilities, LaunchSpec } from '../interfaces/executor.js';

/** Options of {@link ScriptedExecutor}. */
export interface ScriptedExecutorOptions {
  hardStop?: boolean;
  diagnostics?: boolean;
  /** `launch` throws this. */
  launchError?: Error;
  /** `execution.cancel` throws this (synchronously). */
  cancelError?: Error;
  /** What `diagnose()` returns. */
  diagnosis?: string;
  /** When true, `kill()` stops the work (result rejects); when false it resolves but the work goes on. */
  killStops?: boolean;
  /** `capabilities.hardStopMs`. @default undefined */
  hardStopMs?: number;
}

/**
 * One execution of a {@link ScriptedExecutor}, driven by the test: the work does nothing until the
 * test calls `deploy`, `run`, `finish` or `throw`, each of which reports to the runtime through the
 * launch spec at once (synchronously).
 *
 * It implements `Execution` by hand rather than through `BaseExecution`, so that it can misbehave on
 * request (`cancelError` makes `cancel()` throw) and report exactly what the test says.
 */
export class ScriptedExecution implements Execution {
  /** The spec the runtime launched it with. */
  readonly spec: LaunchSpec;
  /** Reasons passed to `cancel`, in order. */
  readonly cancelCalls: Error[] = [];
  /** How often `interrupt()` was called. */
  interruptCalls = 0;
  /** How often `kill()` was called. */
  killCalls = 0;
  /** How often `diagnose()` was called. */
  diagnoseCalls = 0;
  #stopped = false;
  readonly #options: ScriptedExecutorOptions;

  constructor(spec: LaunchSpec, options: ScriptedExecutorOptions) {
    this.spec = spec;
    this.#options = options;
    if (options.hardStop) this.kill = this.#kill;
    if (options.diagnostics) this.diagnose = this.#diagnose;
  }

  /** True once the work has returned, thrown or been killed. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Code loaded: DEPLOYING → INITIALIZING. */
  deploy(): void {
    this.spec.report.started();
  }

  /** `restore` done, `invoke` starts: → RUNNING. */
  run(): void {
    this.spec.report.running();
  }

  /** The work reports progress. */
  progress(value: unknown): void {
    this.spec.report.progress(value);
  }

  /** The work returns `value`. */
  finish(value?: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.spec.report.finished(value);
  }

  /** The work throws `error`. */
  throw(error: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.spec.report.failed(error);
  }

  /** Records the reason; throws `cancelError` when the executor was made with one. */
  cancel(reason: Error): void {
    this.cancelCalls.push(reason);
    if (this.#options.cancelError) throw this.#options.cancelError;
  }

  /** Counts the call. */
  interrupt(): void {
    this.interruptCalls++;
  }

  /** Present with `hardStop`: counts the call and (unless `killStops: false`) throws `'killed'` into the work. */
  kill?: () => Promise<void>;
  /** Present with `diagnostics`: counts the call and returns `diagnosis`. */
  diagnose?: () => Promise<string | undefined>;

  #kill = async (): Promise<void> => {
    this.killCalls++;
    if (this.#options.killStops !== false) this.throw(new Error('killed'));
  };

  #diagnose = async (): Promise<string | undefined> => {
    this.diagnoseCalls++;
    return this.#options.diagnosis;
  };
}

/**
 * A hand-written fake executor for testing the runtime: every launch becomes a
 * {@link ScriptedExecution} the test drives step by step.
 *
 * @example
 * ```ts
 * const executor = new ScriptedExecutor({ hardStop: true });
 * const task = runtime.submit({ jobId, allocationId, invokable: () => 0, executor: 'scripted' });
 * const execution = await executor.nextLaunch();
 * execution.run();
 * task.cancel();
 * execution.throw(new Error('aborted'));
 * expect((await task.done).state).toBe('CANCELED');
 * ```
 */
export class ScriptedExecutor implements Executor {
  readonly name = 'scripted';
  readonly capabilities: ExecutorCapabilities;
  readonly launches: ScriptedExecution[] = [];
  readonly cancelJobCalls: string[] = [];
  closed = false;
  readonly #options: ScriptedExecutorOptions;
  #waiters: Array<(execution: ScriptedExecution) => void> = [];

  constructor(options: ScriptedExecutorOptions = {}) {
    this.#options = options;
    this.capabilities = {
      hardStop: options.hardStop ?? false,
      diagnostics: options.diagnostics ?? false,
      isolation: 'none',
      ...(options.hardStopMs === undefined ? {} : { hardStopMs: options.hardStopMs }),
    };
  }

  launch(spec: LaunchSpec): Execution {
    if (this.#options.launchError) throw this.#options.launchError;
    const execution = new ScriptedExecution(spec, this.#options);
    this.launches.push(execution);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve(execution);
    return execution;
  }

  /** Resolves with the next execution launched (or the latest one if `index` names it). */
  nextLaunch(index = this.launches.length): Promise<ScriptedExecution> {
    const existing = this.launches[index];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve) => {
      const wait = (execution: ScriptedExecution) => {
        if (this.launches[index] === execution) resolve(execution);
        else this.#waiters.push(wait);
      };
      this.#waiters.push(wait);
    });
  }

  async cancelJob(jobId: string): Promise<void> {
    this.cancelJobCalls.push(jobId);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
