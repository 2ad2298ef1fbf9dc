import type {
  Execution,
  Executor,
  ExecutorCapabilities,
  InvocationContext,
  Invokable,
  LaunchSpec,
} from '@taskwarden/sdk';
import { ExecutorClosedError } from '@taskwarden/sdk';
import { callCancelHook, resolveInvokable, runInvokable } from '@taskwarden/sdk/internal';

class InlineExecution implements Execution {
  readonly started: Promise<void>;
  readonly result: Promise<unknown>;
  readonly #controller = new AbortController();
  readonly #context: InvocationContext;
  #invokable: Invokable | undefined;

  constructor(spec: LaunchSpec, onStopped: (execution: InlineExecution) => void) {
    const signal = this.#controller.signal;
    this.#context = {
      input: spec.input,
      signal,
      get logger() {
        return spec.logger;
      },
      task: spec.task,
    };
    const resolved = resolveInvokable(spec.invokable);
    if (resolved instanceof Promise) {
      const loaded = resolved.then((invokable) => {
        this.#invokable = invokable;
        return invokable;
      });
      this.started = loaded.then(() => undefined);
      this.started.catch(() => undefined);
      this.result = loaded.then((invokable) =>
        runInvokable(invokable, this.#context, () => spec.onRunning()),
      );
    } else {
      this.#invokable = resolved;
      this.started = Promise.resolve();
      // A microtask's delay, so a cancel() right after launch is seen before any user code runs.
      this.result = this.started.then(() => runInvokable(resolved, this.#context, () => spec.onRunning()));
    }
    const stopped = () => onStopped(this);
    this.result.then(stopped, stopped);
  }

  cancel(reason: Error): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(reason);
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
  readonly #running = new Set<InlineExecution>();
  #closed = false;

  launch(spec: LaunchSpec): Execution {
    if (this.#closed) throw new ExecutorClosedError(this.name);
    const execution = new InlineExecution(spec, (stopped) => this.#running.delete(stopped));
    this.#running.add(execution);
    return execution;
  }

  /** Refuses new work and asks running work to stop; it cannot force it. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const execution of this.#running) execution.cancel(new ExecutorClosedError(this.name));
  }
}
