import type {
  Execution,
  Executor,
  ExecutorCapabilities,
  InvocationContext,
  Invokable,
  LaunchSpec,
  Logger,
  TaskInfo,
} from '@taskwarden/sdk';
import { ExecutorClosedError } from '@taskwarden/sdk';
import type { OutcomeReporter } from '@taskwarden/sdk/internal';
import {
  ATTACH_EXECUTION,
  callCancelHook,
  LazyAbort,
  REPORT_OUTCOME,
  resolveInvokable,
  runInvokable,
} from '@taskwarden/sdk/internal';

const RESOLVED: Promise<void> = Promise.resolve();

// A class rather than an object literal with getters: the getters live on the prototype, and
// neither the logger nor the AbortSignal is created unless the task reads it.
class InlineContext implements InvocationContext {
  readonly #spec: LaunchSpec;
  readonly abort = new LazyAbort();

  constructor(spec: LaunchSpec) {
    this.#spec = spec;
  }

  get input(): unknown {
    return this.#spec.input;
  }

  get task(): TaskInfo {
    return this.#spec.task;
  }

  get logger(): Logger {
    return this.#spec.logger;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }
}

class InlineExecution implements Execution {
  readonly started: Promise<void>;
  readonly #context: InlineContext;
  readonly #spec: LaunchSpec;
  #invokable: Invokable | undefined;
  #result: Promise<unknown> | undefined;
  /** The outcome of work that ended inside the constructor, until someone asks for `result`. */
  #ok = true;
  #value: unknown;

  constructor(spec: LaunchSpec) {
    this.#spec = spec;
    this.#context = new InlineContext(spec);
    const resolved = resolveInvokable(spec.invokable);
    if (resolved instanceof Promise) {
      const loaded = resolved.then((invokable) => {
        this.#invokable = invokable;
      });
      this.started = loaded;
      this.started.catch(() => undefined);
      this.#result = loaded.then(() => this.#run());
      return;
    }
    this.#invokable = resolved;
    this.started = RESOLVED;
    const report = (spec as OutcomeReporter)[REPORT_OUTCOME];
    const attach = (spec as OutcomeReporter)[ATTACH_EXECUTION];
    if (typeof report !== 'function' || typeof attach !== 'function') {
      // Launched by something other than the runtime: a microtask's delay, so a cancel() right
      // after launch is seen before any user code runs.
      this.#result = RESOLVED.then(() => this.#run());
      return;
    }
    // Launched by the runtime, which launches a microtask after submit (a cancel() right after
    // submit never reaches here): run now, and report a synchronous outcome without a promise. The
    // task gets this execution first, so a cancel while the code runs aborts its signal as usual.
    attach.call(spec, this);
    let value: unknown;
    try {
      value = this.#run();
    } catch (error) {
      this.#ok = false;
      this.#value = error;
      report.call(spec, false, error);
      return;
    }
    if (isThenable(value)) {
      this.#result = Promise.resolve(value);
      return;
    }
    this.#value = value;
    report.call(spec, true, value);
  }

  /** Settles when the work has stopped; created on first access for work that ended at launch. */
  get result(): Promise<unknown> {
    this.#result ??= this.#ok ? Promise.resolve(this.#value) : Promise.reject(this.#value);
    return this.#result;
  }

  #run(): unknown {
    const spec = this.#spec;
    return runInvokable(
      this.#invokable as Invokable,
      this.#context,
      () => spec.onRunning(),
      this.#context.abort,
    );
  }

  cancel(reason: Error): void {
    if (this.#context.abort.abort(reason)) callCancelHook(this.#invokable, this.#context);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Runs tasks on the host's event loop: an invokable object, a function, or `{ module, export? }`.
 *
 * Cancellation is cooperative only: the task's signal is aborted and its `cancel()` hook called,
 * and nothing can stop code that ignores both. A deaf inline task is ended by the runtime's
 * watchdog (fatal escalation); use `WorkerExecutor` for work that must be stoppable, and
 * `LoopBlockWatchdog` for code that may block the loop.
 *
 * @example
 * ```js
 * const runtime = createRuntime({ numberOfSlots: 1, executors: { inline: new InlineExecutor() } });
 * ```
 */
export class InlineExecutor implements Executor {
  readonly name = 'inline';
  readonly capabilities: ExecutorCapabilities = Object.freeze({
    hardStop: false,
    diagnostics: false,
    isolation: 'none',
  });
  #closed = false;

  launch(spec: LaunchSpec): Execution {
    if (this.#closed) throw new ExecutorClosedError(this.name);
    return new InlineExecution(spec);
  }

  /**
   * Refuses new work. Inline work holds no thread or process to release, and the runtime has already
   * cancelled and awaited every task when it closes its executors, so nothing is tracked per task.
   */
  async close(): Promise<void> {
    this.#closed = true;
  }
}
