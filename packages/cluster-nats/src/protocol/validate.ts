/**
 * Shape checks for everything that arrives from the network. A message that fails them is garbage
 * (a stranger, another version, corruption): the receiver logs it and goes on.
 * @internal
 * @module
 */
import { isSerializedError } from '@taskwarden/sdk/internal';
import type {
  ControlMessage,
  ControlReply,
  FreeMessage,
  LiveQuery,
  LiveReply,
  OfferedTask,
  OfferMessage,
  OfferReply,
  ReportAck,
  ReportEvent,
  ReportMessage,
  StatsMessage,
  StatsReply,
} from './messages.js';

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

function isOfferedTask(value: unknown): value is OfferedTask {
  if (!isObject(value)) return false;
  const timings = value.timings;
  return (
    isString(value.id) &&
    isCount(value.token) &&
    isString(value.executor) &&
    isString(value.module) &&
    (value.export === undefined || isString(value.export)) &&
    typeof value.name === 'string' &&
    isString(value.jobId) &&
    isString(value.allocationId) &&
    isCount(value.attempt) &&
    value.input instanceof Uint8Array &&
    typeof value.logLevel === 'string' &&
    isObject(timings) &&
    isMs(timings.interruptIntervalMs) &&
    isMs(timings.gracePeriodMs) &&
    isMs(timings.timeoutMs)
  );
}

/** @internal */
export function isOfferMessage(value: unknown): value is OfferMessage {
  return (
    isObject(value) &&
    value.t === 'offer' &&
    isString(value.coordinator) &&
    isString(value.coordinatorEpoch) &&
    isString(value.agentEpoch) &&
    isArrayOf(value.tasks, isOfferedTask)
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

const REPORT_KINDS = new Set(['started', 'running', 'progress', 'finished', 'failed']);

function isReportEvent(value: unknown): value is ReportEvent {
  return (
    isObject(value) &&
    isString(value.id) &&
    isCount(value.token) &&
    REPORT_KINDS.has(value.kind as string) &&
    (value.value === undefined || value.value instanceof Uint8Array) &&
    (value.error === undefined || isSerializedError(value.error)) &&
    typeof value.fenced === 'boolean'
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
