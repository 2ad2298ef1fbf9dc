/**
 * Shape checks for everything that arrives from the network. A message that fails them is garbage
 * (a stranger, another version, corruption): the receiver logs it and goes on.
 * @internal
 * @module
 */
import { types } from 'node:util';
import { isSerializedError } from '@taskwarden/sdk/internal';
import type { TraceCarrier } from '../telemetry/trace-context.js';
import { checkTraceCarrier } from '../telemetry/trace-context.js';
import type {
  ControlMessage,
  ControlReply,
  FreeMessage,
  LiveQuery,
  LiveReply,
  OfferedTask,
  OfferedTaskWire,
  OfferMessage,
  OfferReply,
  ReportAck,
  ReportEvent,
  ReportMessage,
  StatsMessage,
  StatsReply,
} from './messages.js';
import { ALL_EVENT_BITS, EventBit } from './messages.js';

/** More items than any sane batch holds. */
const MAX_ITEMS = 100_000;

type Shape = Record<string, unknown>;

function isObject(value: unknown): value is Shape {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 4096;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isMs(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isArrayOf<T>(value: unknown, item: (v: unknown) => v is T): value is T[] {
  return Array.isArray(value) && value.length <= MAX_ITEMS && value.every(item);
}

function isOfferedTaskWire(value: unknown): value is OfferedTaskWire {
  return (
    Array.isArray(value) &&
    value.length === 14 &&
    isString(value[0]) &&
    isCount(value[1]) &&
    isString(value[2]) &&
    isString(value[3]) &&
    (value[4] === undefined || isString(value[4])) &&
    typeof value[5] === 'string' &&
    isString(value[6]) &&
    isString(value[7]) &&
    isCount(value[8]) &&
    value[9] instanceof Uint8Array &&
    isMs(value[10]) &&
    isMs(value[11]) &&
    isMs(value[12]) &&
    typeof value[13] === 'string'
  );
}

/** The agent's view of a checked {@link OfferedTaskWire}, with its checked trace context. @internal */
export function offeredTask(wire: OfferedTaskWire, traceContext?: TraceCarrier): OfferedTask {
  return {
    id: wire[0],
    token: wire[1],
    executor: wire[2],
    module: wire[3],
    export: wire[4],
    name: wire[5],
    jobId: wire[6],
    allocationId: wire[7],
    attempt: wire[8],
    input: wire[9],
    timings: { interruptIntervalMs: wire[10], gracePeriodMs: wire[11], timeoutMs: wire[12] },
    logLevel: wire[13],
    traceContext,
  };
}

/** What {@link offerTraceContexts} found. @internal */
export interface OfferTraceContexts {
  /** The checked trace context of each task, by position; undefined when the offer has none. */
  readonly carriers: ReadonlyArray<TraceCarrier | undefined> | undefined;
  /** Why (some of) the field was ignored, for the garbage log; undefined when all of it was fine. */
  readonly problem: string | undefined;
}

/**
 * Checks the `trace` field of an offer that passed {@link isOfferMessage}, on its own: a field that
 * is not an array of one entry per task is ignored as a whole, an entry that is not `undefined` or
 * a valid carrier (see `checkTraceCarrier`) is ignored alone; the tasks run either way, without a
 * parent context. @internal
 */
export function offerTraceContexts(offer: OfferMessage): OfferTraceContexts {
  const field: unknown = (offer as { trace?: unknown }).trace;
  if (field === undefined) return { carriers: undefined, problem: undefined };
  if (!Array.isArray(field) || types.isProxy(field)) {
    return { carriers: undefined, problem: 'trace: not an array' };
  }
  if (field.length !== offer.tasks.length) {
    return {
      carriers: undefined,
      problem: `trace: ${field.length} entries for ${offer.tasks.length} tasks`,
    };
  }
  const carriers: Array<TraceCarrier | undefined> = [];
  let problem: string | undefined;
  let bad = 0;
  for (let i = 0; i < field.length; i++) {
    const entry: unknown = field[i];
    if (entry === undefined) {
      carriers.push(undefined);
      continue;
    }
    const checked = checkTraceCarrier(entry);
    if (typeof checked === 'string') {
      carriers.push(undefined);
      bad++;
      problem ??= `the trace context of task ${(offer.tasks[i]?.[0] ?? '').slice(0, 128)}: ${checked}`;
    } else {
      carriers.push(checked.carrier);
    }
  }
  if (bad > 1) problem = `${problem} (and ${bad - 1} more)`;
  return { carriers, problem };
}

/** @internal */
export function isOfferMessage(value: unknown): value is OfferMessage {
  return (
    isObject(value) &&
    value.t === 'offer' &&
    isString(value.coordinator) &&
    isString(value.coordinatorEpoch) &&
    isString(value.agentEpoch) &&
    isArrayOf(value.tasks, isOfferedTaskWire)
  );
}

const DECLINE_REASONS = new Set([
  'full',
  'draining',
  'fenced',
  'wrong-epoch',
  'no-executor',
  'cancelled',
  'finished',
  'coordinator-lost',
]);

function isDeclined(value: unknown): value is readonly [string, string] {
  return Array.isArray(value) && value.length === 2 && isString(value[0]) && DECLINE_REASONS.has(value[1]);
}

/** @internal */
export function isOfferReply(value: unknown): value is OfferReply {
  return (
    isObject(value) &&
    value.t === 'offer-reply' &&
    isArrayOf(value.accepted, isString) &&
    isArrayOf(value.declined, isDeclined) &&
    isCount(value.free)
  );
}

const CONTROL_OPS = new Set(['cancel', 'interrupt', 'kill', 'diagnose']);

/** @internal */
export function isControlMessage(value: unknown): value is ControlMessage {
  return (
    isObject(value) &&
    value.t === 'control' &&
    CONTROL_OPS.has(value.op as string) &&
    isString(value.coordinator) &&
    isString(value.id) &&
    isCount(value.token) &&
    (value.reason === undefined || isSerializedError(value.reason))
  );
}

/** @internal */
export function isControlReply(value: unknown): value is ControlReply {
  return (
    isObject(value) &&
    value.t === 'control-reply' &&
    typeof value.known === 'boolean' &&
    (value.stack === undefined || typeof value.stack === 'string')
  );
}

/** @internal */
export function isStatsMessage(value: unknown): value is StatsMessage {
  return isObject(value) && value.t === 'stats';
}

/** @internal */
export function isStatsReply(value: unknown): value is StatsReply {
  return (
    isObject(value) &&
    value.t === 'stats-reply' &&
    isString(value.agent) &&
    isCount(value.capacity) &&
    isCount(value.running) &&
    isCount(value.free) &&
    typeof value.draining === 'boolean' &&
    isArrayOf(value.pids, isCount)
  );
}

function isReportEvent(value: unknown): value is ReportEvent {
  if (!Array.isArray(value) || value.length !== 6) return false;
  const bits = value[2];
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits <= 0 || (bits & ~ALL_EVENT_BITS) !== 0) {
    return false;
  }
  const outcome = bits & (EventBit.finished | EventBit.failed);
  const carriesValue = (bits & (EventBit.progress | EventBit.finished)) !== 0;
  return (
    isString(value[0]) &&
    isCount(value[1]) &&
    outcome !== (EventBit.finished | EventBit.failed) &&
    // One value per event: a progress value and a result never share one.
    (bits & (EventBit.progress | EventBit.finished)) !== (EventBit.progress | EventBit.finished) &&
    (carriesValue ? value[3] instanceof Uint8Array : value[3] === undefined) &&
    ((bits & EventBit.failed) !== 0 ? isSerializedError(value[4]) : value[4] === undefined) &&
    typeof value[5] === 'boolean'
  );
}

/** @internal */
export function isReportMessage(value: unknown): value is ReportMessage {
  return (
    isObject(value) &&
    value.t === 'report' &&
    isString(value.agent) &&
    isString(value.agentEpoch) &&
    isCount(value.free) &&
    isArrayOf(value.events, isReportEvent)
  );
}

/** @internal */
export function isReportAck(value: unknown): value is ReportAck {
  return isObject(value) && value.t === 'ack';
}

/** @internal */
export function isFreeMessage(value: unknown): value is FreeMessage {
  return (
    isObject(value) &&
    value.t === 'free' &&
    isString(value.agent) &&
    isString(value.agentEpoch) &&
    isCount(value.free)
  );
}

/** @internal */
export function isLiveQuery(value: unknown): value is LiveQuery {
  return (
    isObject(value) &&
    value.t === 'live?' &&
    isArrayOf(
      value.tasks,
      (task): task is [string, string] =>
        Array.isArray(task) && task.length === 2 && isString(task[0]) && isString(task[1]),
    )
  );
}

/** @internal */
export function isLiveReply(value: unknown): value is LiveReply {
  return (
    isObject(value) &&
    value.t === 'live' &&
    isArrayOf(value.live, (flag): flag is boolean => typeof flag === 'boolean')
  );
}
