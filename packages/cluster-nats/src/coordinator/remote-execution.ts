/**
 * One task submitted to the cluster, as the coordinator's runtime sees it: an `Execution` whose
 * work runs on an agent. Its `started`/`result` settle from what the agent reports (or from the
 * agent being declared lost); every way it reports to the runtime goes through the five methods
 * `markStarted`, `markRunning`, `progress`, `resolve` and `reject`, and nothing else.
 * @internal
 * @module
 */
import type { Execution, LaunchSpec } from '@taskwarden/sdk';
import type { WireTimings } from '../protocol/messages.js';

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
export class RemoteExecution implements Execution {
  readonly started: Promise<void>;
  readonly result: Promise<unknown>;
  readonly spec: LaunchSpec;
  readonly id: string;
  /** Unique per submission: tells this submission's record from another with the same id. */
  readonly nonce: string;
  readonly input: Uint8Array;
  readonly timings: WireTimings;

  phase: RemotePhase = 'waiting';
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
  cancelRequested = false;
  killRequested = false;
  cancelReason: Error | undefined;

  readonly #control: RemoteControl;
  #resolveStarted!: () => void;
  #rejectStarted!: (error: unknown) => void;
  #resolveResult!: (value: unknown) => void;
  #rejectResult!: (error: unknown) => void;
  #startedReported = false;
  #runningReported = false;

  constructor(
    spec: LaunchSpec,
    ctx: { nonce: string; input: Uint8Array; timings: WireTimings },
    control: RemoteControl,
  ) {
    this.spec = spec;
    this.id = spec.task.executionId;
    this.nonce = ctx.nonce;
    this.input = ctx.input;
    this.timings = ctx.timings;
    this.#control = control;
    this.started = new Promise((resolve, reject) => {
      this.#resolveStarted = resolve;
      this.#rejectStarted = reject;
    });
    this.result = new Promise((resolve, reject) => {
      this.#resolveResult = resolve;
      this.#rejectResult = reject;
    });
    // `result` carries every failure; nobody need handle `started`'s.
    this.started.catch(() => undefined);
  }

  get ended(): boolean {
    return this.phase === 'ended';
  }

  cancel(reason: Error): void {
    if (this.ended || this.cancelRequested) return;
    this.cancelRequested = true;
    this.cancelReason = reason;
    this.#control.cancel(this, reason);
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

  /** The agent loaded the code (DEPLOYING → INITIALIZING). */
  markStarted(): void {
    if (this.ended || this.#startedReported) return;
    this.#startedReported = true;
    this.#resolveStarted();
  }

  /** The agent is about to invoke (→ RUNNING). */
  markRunning(): void {
    if (this.ended || this.#runningReported) return;
    this.markStarted();
    this.#runningReported = true;
    this.spec.onRunning();
  }

  /** A progress value the task reported on the agent. */
  progress(value: unknown): void {
    if (this.ended) return;
    const report = (this.spec as { report?: { progress?: (value: unknown) => void } }).report;
    report?.progress?.(value);
  }

  /** The work returned `value` and has stopped. */
  resolve(value: unknown): void {
    if (this.ended) return;
    this.markStarted();
    this.phase = 'ended';
    this.#resolveResult(value);
    this.#control.ended(this);
  }

  /** The work threw, was stopped, never started, or its agent was lost; it is not running. */
  reject(error: unknown): void {
    if (this.ended) return;
    this.phase = 'ended';
    this.#rejectStarted(error);
    this.#rejectResult(error);
    this.#control.ended(this);
  }
}
