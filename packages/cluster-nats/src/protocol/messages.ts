/**
 * The messages of the cluster protocol (encoded with `codec.ts`). Requests go to the subjects of
 * `subjects.ts`; every request has exactly one reply type. Values a task produces (its input, result
 * and progress) travel as separately encoded byte arrays, so their size is known before sending and
 * one that cannot be decoded fails only its task.
 * @internal
 * @module
 */
import type { SerializedError } from '@taskwarden/sdk/internal';
import type { TraceCarrier } from '../telemetry/trace-context.js';

/** A task's ladder timings, as resolved by the coordinator's runtime. @internal */
export interface WireTimings {
  readonly interruptIntervalMs: number;
  readonly gracePeriodMs: number;
  readonly timeoutMs: number;
}

/** One offered task, as the agent works with it (decoded from an {@link OfferedTaskWire}). @internal */
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
  /** The input, encoded (`encodeValue`). */
  readonly input: Uint8Array;
  readonly timings: WireTimings;
  /** The task logger's level on the coordinator, for the agent-side logger. */
  readonly logLevel: string;
  /** The coordinator's trace context of the task (checked), if it sent one. */
  readonly traceContext: TraceCarrier | undefined;
}

/**
 * One task in an {@link OfferMessage}: the fields of {@link OfferedTask} in a fixed order. A tuple,
 * not an object: structured clone writes every property name of every object, which made offers
 * cost twice as much to encode and decode. @internal
 */
export type OfferedTaskWire = readonly [
  id: string,
  token: number,
  executor: string,
  module: string,
  exportName: string | undefined,
  name: string,
  jobId: string,
  allocationId: string,
  attempt: number,
  input: Uint8Array,
  interruptIntervalMs: number,
  gracePeriodMs: number,
  timeoutMs: number,
  logLevel: string,
];

/** Coordinator → agent (`agentOffer`): run these tasks if you can. Reply: {@link OfferReply}. @internal */
export interface OfferMessage {
  readonly t: 'offer';
  readonly coordinator: string;
  readonly coordinatorEpoch: string;
  /** The agent's lease epoch the coordinator offers to; another epoch declines everything. */
  readonly agentEpoch: string;
  readonly tasks: readonly OfferedTaskWire[];
  /**
   * The OpenTelemetry trace context of each task (what the coordinator's propagator wrote at
   * launch), by position in `tasks`; absent when no task has one, which is the case whenever no
   * propagator is registered (no bytes per task then). A property of the message rather than a
   * field of the tuples, so agents that do not know it ignore it and take the tasks as before.
   * Checked on receipt on its own: a malformed one is logged and ignored, and its tasks still run.
   */
  readonly trace?: ReadonlyArray<TraceCarrier | undefined>;
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

/**
 * What happened to a task on the agent, as bits of one report event. Consecutive happenings of one
 * task that are still queued go out as one event (a trivial task's started, running and result
 * are one event), applied in this order: started, running, progress, then the outcome. @internal
 */
export const EventBit = {
  started: 1,
  running: 2,
  /** The event's value is a progress value. */
  progress: 4,
  /** The event's value is the result. */
  finished: 8,
  /** The event's error is what the work threw or how it was stopped. */
  failed: 16,
} as const;

/** Every bit of {@link EventBit}. @internal */
export const ALL_EVENT_BITS = 31;

/**
 * One event in a {@link ReportMessage} (a tuple, as offered tasks are): the task, its fencing
 * token, {@link EventBit}s, the value of `progress` or `finished` (encoded with `encodeValue`),
 * the error of `failed`, and whether the agent stopped the work itself because it could not renew
 * its lease. @internal
 */
export type ReportEvent = [
  id: string,
  token: number,
  bits: number,
  value: Uint8Array | undefined,
  error: SerializedError | undefined,
  fenced: boolean,
];

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
