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
}

/**
 * One execution of a {@link ScriptedExecutor}, driven by the test: the work does nothing until the
 * test calls `deploy`, `run`, `finish` or `throw`.
 */
export class ScriptedExecution implements Execution {
  readonly started: Promise<void>;
  readonly result: Promise<unknown>;
  readonly spec: LaunchSpec;
  /** Reasons passed to `cancel`, in order. */
  readonly cancelCalls: Error[] = [];
  interruptCalls = 0;
  killCalls = 0;
  diagnoseCalls = 0;
  #stopped = false;
  #resolveStarted!: () => void;
  #rejectStarted!: (error: unknown) => void;
  #resolveResult!: (value: unknown) => void;
  #rejectResult!: (error: unknown) => void;
  readonly #options: ScriptedExecutorOptions;

  constructor(spec: LaunchSpec, options: ScriptedExecutorOptions) {
    this.spec = spec;
    this.#options = options;
    this.started = new Promise((resolve, reject) => {
      this.#resolveStarted = resolve;
      this.#rejectStarted = reject;
    });
    this.started.catch(() => undefined);
    this.result = new Promise((resolve, reject) => {
      this.#resolveResult = resolve;
      this.#rejectResult = reject;
    });
    if (options.hardStop) this.kill = this.#kill;
    if (options.diagnostics) this.diagnose = this.#diagnose;
  }

  /** True once the work has returned, thrown or been killed. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Code loaded: DEPLOYING → INITIALIZING. */
  deploy(): void {
    this.#resolveStarted();
  }

  /** `restore` done, `invoke` starts: → RUNNING. */
  run(): void {
    this.#resolveStarted();
    this.spec.onRunning();
  }

  /** The work returns `value`. */
  finish(value?: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#resolveStarted();
    this.#resolveResult(value);
  }

  /** The work throws `error`. */
  throw(error: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#rejectStarted(error);
    this.#rejectResult(error);
  }

  cancel(reason: Error): void {
    this.cancelCalls.push(reason);
    if (this.#options.cancelError) throw this.#options.cancelError;
  }

  interrupt(): void {
    this.interruptCalls++;
  }

  kill?: () => Promise<void>;
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
