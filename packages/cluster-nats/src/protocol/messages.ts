/**
 * The messages of the cluster protocol (encoded with `codec.ts`). Requests go to the subjects of
 * `subjects.ts`; every request has exactly one reply type. Values a task produces (its input, result
 * and progress) travel as separately encoded byte arrays, so their size is known before sending and
 * one that cannot be decoded fails only its task.
 * @internal
 * @module
 */
import type { SerializedError } from '@taskwarden/sdk/internal';

/** A task's ladder timings, as resolved by the coordinator's runtime. @internal */
export interface WireTimings {
  readonly interruptIntervalMs: number;
  readonly gracePeriodMs: number;
  readonly timeoutMs: number;
}

/** One task in an {@link OfferMessage}. @internal */
export interface OfferedTask {
  readonly id: string;
  /** The fencing token: the revision of the task's record when it was (re)assigned. */
  readonly token: number;
  /** Which of the agent's executors runs it. */
  readonly executor: string;
  readonly module: string;
  readonly export: string | undefined;
  readonly name: string;
  readonly jobId: string;
  readonly allocationId: string;
  readonly attempt: number;
  /** The input, encoded. */
  readonly input: Uint8Array;
  readonly timings: WireTimings;
  /** The task logger's level on the coordinator, for the agent-side logger. */
  readonly logLevel: string;
}

/** Coordinator → agent (`agentOffer`): run these tasks if you can. Reply: {@link OfferReply}. @internal */
export interface OfferMessage {
  readonly t: 'offer';
  readonly coordinator: string;
  readonly coordinatorEpoch: string;
  /** The agent's lease epoch the coordinator offers to; another epoch declines everything. */
  readonly agentEpoch: string;
  readonly tasks: readonly OfferedTask[];
}

/** Why an agent did not take an offered task. @internal */
export type DeclineReason =
  | 'full'
  | 'draining'
  | 'fenced'
  | 'wrong-epoch'
  | 'no-executor'
  | 'cancelled'
  | 'finished'
  | 'coordinator-lost';

/** Agent → coordinator: which offered tasks it started, which it declined (never started). @internal */
export interface OfferReply {
  readonly t: 'offer-reply';
  readonly accepted: readonly string[];
  readonly declined: ReadonlyArray<readonly [id: string, reason: DeclineReason]>;
  /** Free capacity after this offer. */
  readonly free: number;
}

/** What a control request asks of an agent. @internal */
export type ControlOp = 'cancel' | 'interrupt' | 'kill' | 'diagnose';

/** Coordinator → agent (`agentControl`): act on a task. Reply: {@link ControlReply}. @internal */
export interface ControlMessage {
  readonly t: 'control';
  readonly op: ControlOp;
  readonly coordinator: string;
  readonly id: string;
  readonly token: number;
  /** For `cancel`: the reason given to the task's signal. */
  readonly reason: SerializedError | undefined;
}

/** Agent → coordinator: whether the agent had the task; for `diagnose`, its stack. @internal */
export interface ControlReply {
  readonly t: 'control-reply';
  /** False when the agent runs no such task (it ended, or was never offered): a cancel is remembered. */
  readonly known: boolean;
  readonly stack: string | undefined;
}

/** Anyone → agent (`agentControl`): its capacity and what it runs. Reply: {@link StatsReply}. @internal */
export interface StatsMessage {
  readonly t: 'stats';
}

/** Agent → anyone: see {@link StatsMessage}. @internal */
export interface StatsReply {
  readonly t: 'stats-reply';
  readonly agent: string;
  readonly capacity: number;
  readonly running: number;
  readonly free: number;
  readonly draining: boolean;
  /** Pids of child processes of its executors (process executors only). */
  readonly pids: readonly number[];
}

/** What happened to a task on the agent. @internal */
export type ReportKind = 'started' | 'running' | 'progress' | 'finished' | 'failed';

/** One event in a {@link ReportMessage}. @internal */
export interface ReportEvent {
  readonly id: string;
  readonly token: number;
  readonly kind: ReportKind;
  /** `progress` and `finished`: the value, encoded. */
  readonly value: Uint8Array | undefined;
  /** `failed`: what the work threw or how it was stopped. */
  readonly error: SerializedError | undefined;
  /** `failed`: the agent stopped the work itself because it could not renew its lease. */
  readonly fenced: boolean;
}

/** Agent → coordinator (`coordinatorReport`): events in order. Reply: {@link ReportAck}. @internal */
export interface ReportMessage {
  readonly t: 'report';
  readonly agent: string;
  readonly agentEpoch: string;
  readonly free: number;
  readonly events: readonly ReportEvent[];
}

/** Coordinator → agent: every event of the report was applied (or was about a task it no longer has). @internal */
export interface ReportAck {
  readonly t: 'ack';
}

/** Agent → coordinators (`free`): it can take `free` more tasks. @internal */
export interface FreeMessage {
  readonly t: 'free';
  readonly agent: string;
  readonly agentEpoch: string;
  readonly free: number;
}

/**
 * Coordinator → coordinator (`coordinatorLive`): are these submissions (execution id and the nonce of
 * the record that names you) yours and live? @internal
 */
export interface LiveQuery {
  readonly t: 'live?';
  readonly tasks: ReadonlyArray<readonly [id: string, nonce: string]>;
}

/** Reply to a {@link LiveQuery}, one flag per task. @internal */
export interface LiveReply {
  readonly t: 'live';
  readonly live: readonly boolean[];
}
