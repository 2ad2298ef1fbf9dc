import type { Execution, LaunchSpec } from '@taskwarden/sdk';

/** What an execution asks of the pool that owns it. @internal */
export interface ExecutionControl {
  cancel(execution: WorkerExecution, reason: Error): void;
  kill(execution: WorkerExecution): Promise<void>;
  diagnose(execution: WorkerExecution): Promise<string | undefined>;
}

/**
 * Where a task is: waiting in the queue; offered to a busy thread that may take it when its current
 * task ends (still waiting, and revocable); on a thread; or stopped (its `result` has settled).
 */
export type ExecutionPhase = 'queued' | 'offered' | 'running' | 'done';

const noop = (): void => undefined;

/**
 * The host-side half of one task run by {@link WorkerExecutor}. The pool drives it: `markStarted`,
 * `markRunning` and `settle` (once). The public `Execution` methods never throw.
 * @internal
 */
export class WorkerExecution implements Execution {
  readonly id: number;
  readonly spec: LaunchSpec;
  readonly started: Promise<void>;
  readonly result: Promise<unknown>;
  phase: ExecutionPhase = 'queued';
  /** The first cancel reason; later cancels are no-ops. */
  cancelReason: Error | undefined;
  /** Set by the queue when the task is taken out before it ran. */
  dequeued = false;

  readonly #control: ExecutionControl;
  #startedSettled = false;
  #resolveStarted!: () => void;
  #rejectStarted!: (error: unknown) => void;
  #resolveResult!: (value: unknown) => void;
  #rejectResult!: (error: unknown) => void;

  constructor(control: ExecutionControl, spec: LaunchSpec, id: number) {
    this.#control = control;
    this.spec = spec;
    this.id = id;
    this.started = new Promise((resolve, reject) => {
      this.#resolveStarted = resolve;
      this.#rejectStarted = reject;
    });
    this.result = new Promise((resolve, reject) => {
      this.#resolveResult = resolve;
      this.#rejectResult = reject;
    });
  }

  cancel(reason: Error): void {
    if (this.cancelReason !== undefined || this.phase === 'done') return;
    this.cancelReason = reason;
    try {
      this.#control.cancel(this, reason);
    } catch {
      // The ladder's next stages stop the work; a failing cancel must not break them.
    }
  }

  kill(): Promise<void> {
    try {
      return this.#control.kill(this);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  diagnose(): Promise<string | undefined> {
    return this.#control.diagnose(this);
  }

  /** The worker has loaded the module. */
  markStarted(): void {
    if (this.#startedSettled) return;
    this.#startedSettled = true;
    this.#resolveStarted();
  }

  /** The worker is about to call `invoke`. */
  markRunning(): void {
    this.markStarted();
    this.spec.onRunning();
  }

  /** The work has stopped: settles `result` (and `started`, if still pending) once. */
  settle(ok: boolean, value: unknown): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    if (ok) {
      this.markStarted();
      this.#resolveResult(value);
      return;
    }
    if (!this.#startedSettled) {
      this.#startedSettled = true;
      // `result` carries the failure; nobody has to listen to `started` for it.
      this.started.catch(noop);
      this.#rejectStarted(value);
    }
    this.#rejectResult(value);
  }
}
