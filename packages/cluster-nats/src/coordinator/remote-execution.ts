/**
 * One task submitted to the cluster, as the coordinator's runtime sees it: an `Execution` whose
 * work runs on an agent. It reports to the runtime through `BaseExecution` (started, running,
 * progress, the outcome) from what the agent reports, or from the agent being declared lost.
 * @internal
 * @module
 */
import type { LaunchSpec } from '@taskwarden/sdk';
import { BaseExecution } from '@taskwarden/sdk';
import type { WireTimings } from '../protocol/messages.js';
import type { CheckedTraceCarrier } from '../telemetry/trace-context.js';

/**
 * Where the task is:
 * - `waiting`: not yet registered (the coordinator is connecting, or `maxInFlight` is reached);
 * - `registering`: its record is being created (the cluster-wide duplicate check);
 * - `queued`: registered, waiting for an agent with free capacity;
 * - `offering`: offered to one agent, no answer yet;
 * - `unknown`: an offer to that agent timed out; it is asked again until it answers or is lost;
 * - `running`: the agent took it (its work may have started);
 * - `ended`: the outcome was reported to the runtime.
 * @internal
 */
export type RemotePhase = 'waiting' | 'registering' | 'queued' | 'offering' | 'unknown' | 'running' | 'ended';

/** What a remote execution asks of its coordinator. @internal */
export interface RemoteControl {
  cancel(execution: RemoteExecution, reason: Error): void;
  interrupt(execution: RemoteExecution): void;
  kill(execution: RemoteExecution): Promise<void>;
  diagnose(execution: RemoteExecution): Promise<string | undefined>;
  /** Called once, right after the execution ended (its outcome went to the runtime). */
  ended(execution: RemoteExecution): void;
}

/** One remote task. @internal */
export class RemoteExecution extends BaseExecution {
  readonly id: string;
  /** Unique per submission: tells this submission's record from another with the same id. */
  readonly nonce: string;
  readonly input: Uint8Array;
  readonly timings: WireTimings;
  /**
   * The trace context active at launch (the runtime's task span), as the propagator wrote it, for
   * the offers; undefined when it wrote nothing, or once dropped because an offer had no room for it.
   */
  traceContext: CheckedTraceCarrier | undefined;

  #phase: RemotePhase = 'waiting';
  /** The fencing token: the revision of the task's record when it was (re)assigned. */
  token = 0;
  /** The latest revision of the task's record this coordinator wrote. */
  recordRevision = 0;
  /** The agent (and its lease epoch) the task was offered to or runs on. */
  agent: { readonly name: string; readonly epoch: string } | undefined;
  /** Part of an offer request that has not been answered yet. */
  offerInFlight = false;
  /** An offer of the current assignment timed out: the agent may have taken the task. */
  offerUnknown = false;
  killRequested = false;

  readonly #control: RemoteControl;

  constructor(
    spec: LaunchSpec,
    ctx: {
      nonce: string;
      input: Uint8Array;
      timings: WireTimings;
      traceContext: CheckedTraceCarrier | undefined;
    },
    control: RemoteControl,
  ) {
    super(spec);
    this.id = spec.task.executionId;
    this.nonce = ctx.nonce;
    this.input = ctx.input;
    this.timings = ctx.timings;
    this.traceContext = ctx.traceContext;
    this.#control = control;
  }

  get phase(): RemotePhase {
    return this.#phase;
  }

  set phase(phase: RemotePhase) {
    if (this.#phase !== 'ended') this.#phase = phase;
  }

  get ended(): boolean {
    return this.#phase === 'ended';
  }

  /** Whether `cancel()` was called. */
  get cancelRequested(): boolean {
    return this.cancelReason !== undefined;
  }

  protected onCancel(reason: Error): void {
    if (!this.ended) this.#control.cancel(this, reason);
  }

  interrupt(): void {
    if (!this.ended) this.#control.interrupt(this);
  }

  kill(): Promise<void> {
    if (this.ended || this.killRequested) return Promise.resolve();
    this.killRequested = true;
    return this.#control.kill(this);
  }

  diagnose(): Promise<string | undefined> {
    return this.ended ? Promise.resolve(undefined) : this.#control.diagnose(this);
  }

  /** The work returned `value` on the agent and has stopped. */
  override resolve(value: unknown): void {
    if (this.ended) return;
    this.#phase = 'ended';
    super.resolve(value);
    this.#control.ended(this);
  }

  /** The work threw, was stopped, never started, or its agent was lost; it is not running. */
  override reject(error: unknown): void {
    if (this.ended) return;
    this.#phase = 'ended';
    super.reject(error);
    this.#control.ended(this);
  }
}
