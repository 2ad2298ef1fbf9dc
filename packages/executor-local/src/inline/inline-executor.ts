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
import { BaseExecution, ExecutorClosedError } from '@taskwarden/sdk';
import { callCancelHook, resolveInvokable, runInvokable } from '@taskwarden/sdk/internal';

// A class rather than an object literal with getters: the getters live on the prototype, and
// neither the logger nor the AbortSignal is created unless the task reads it.
class InlineContext implements InvocationContext {
  readonly #execution: InlineExecution;

  constructor(execution: InlineExecution) {
    this.#execution = execution;
  }

  get input(): unknown {
    return this.#execution.spec.input;
  }

  get task(): TaskInfo {
    return this.#execution.spec.task;
  }

  get logger(): Logger {
    return this.#execution.spec.logger;
  }

  get signal(): AbortSignal {
    return this.#execution.signal;
  }

  /** Reports progress to the runtime (`task.progress`, the `taskProgress` event), synchronously. */
  // A function, not a method: task code destructures it from the context (`{ reportProgress }`).
  get reportProgress(): (value: unknown) => void {
    const execution = this.#execution;
    return (value) => execution.reportProgress(value);
  }
}

/**
 * One inline task. Synchronous work runs inside `launch()` and reports its outcome there (the
 * runtime launches a microtask after `submit`, so a `cancel()` right after `submit()` still runs
 * nothing); asynchronous work reports when its promise settles; a module reference is imported
 * first.
 *
 * The cancellation flag lives here, and the task's AbortSignal is created only when the task reads
 * `ctx.signal` (already aborted if it was cancelled before): Node's AbortController costs more to
 * make and collect than a no-op task, and most tasks never look at it.
 */
class InlineExecution extends BaseExecution {
  readonly #context: InlineContext;
  #invokable: Invokable | undefined;
  #aborted = false;
  #controller: AbortController | undefined;

  constructor(spec: LaunchSpec) {
    super(spec);
    this.#context = new InlineContext(this);
    let resolved: Invokable | Promise<Invokable>;
    try {
      resolved = resolveInvokable(spec.invokable);
    } catch (error) {
      this.reject(error);
      return;
    }
    if (resolved instanceof Promise) {
      resolved.then(
        (invokable) => {
          this.#invokable = invokable;
          // Cancelled while the module loaded: nothing was invoked.
          const reason = this.cancelReason;
          if (reason !== undefined) this.reject(reason);
          else this.#run();
        },
        (error: unknown) => this.reject(error),
      );
      return;
    }
    this.#invokable = resolved;
    this.#run();
  }

  /** The task's signal, made on first read. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.cancelReason);
    }
    return this.#controller.signal;
  }

  /** Read by `runInvokable` between `restore` and `invoke`. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** The abort reason (the first cancel's). */
  get reason(): unknown {
    return this.cancelReason;
  }

  #run(): void {
    const invokable = this.#invokable as Invokable;
    let value: unknown;
    try {
      if (invokable.restore) {
        // The code is loaded: INITIALIZING while `restore` runs.
        this.markStarted();
        value = runInvokable(invokable, this.#context, () => this.markRunning(), this);
      } else {
        // `runInvokable` without `restore`, minus a closure per task: RUNNING implies INITIALIZING.
        if (this.#aborted) throw this.cancelReason;
        this.markRunning();
        value = invokable.invoke(this.#context);
      }
    } catch (error) {
      this.reject(error);
      return;
    }
    // A thenable from user code may be hostile (a `then` getter or method that throws).
    let then: unknown;
    try {
      then =
        (typeof value === 'object' || typeof value === 'function') && value !== null
          ? (value as { then?: unknown }).then
          : undefined;
    } catch (error) {
      this.reject(error);
      return;
    }
    if (typeof then !== 'function') {
      this.resolve(value);
      return;
    }
    try {
      then.call(
        value,
        (result: unknown) => this.resolve(result),
        (error: unknown) => this.reject(error),
      );
    } catch (error) {
      this.reject(error);
    }
  }

  protected onCancel(reason: Error): void {
    this.#aborted = true;
    this.#controller?.abort(reason);
    callCancelHook(this.#invokable, this.#context);
  }
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
