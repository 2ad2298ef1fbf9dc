import type { LaunchSpec } from '@taskwarden/sdk';
import { BaseExecution } from '@taskwarden/sdk';

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

/**
 * The host-side half of one task run by {@link WorkerExecutor}. The pool drives it: `markStarted`,
 * `markRunning` and `settle` (once), which report to the runtime through the launch spec. The public
 * `Execution` methods never throw.
 * @internal
 */
export class WorkerExecution extends BaseExecution {
  readonly id: number;
  phase: ExecutionPhase = 'queued';
  /** Set by the queue when the task is taken out before it ran. */
  dequeued = false;

  readonly #control: ExecutionControl;

  constructor(control: ExecutionControl, spec: LaunchSpec, id: number) {
    super(spec);
    this.#control = control;
    this.id = id;
  }

  protected onCancel(reason: Error): void {
    if (this.phase === 'done') return;
    this.#control.cancel(this, reason);
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

  /** The work has stopped: reports the outcome (and `started`, if still pending) once. */
  settle(ok: boolean, value: unknown): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    if (ok) this.resolve(value);
    else this.reject(value);
  }
}
