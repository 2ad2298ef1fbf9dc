/**
 * The record a coordinator keeps in the tasks bucket for each of its live tasks (JSON): it makes
 * execution ids unique across the cluster (`create` fails for a key that exists), and it holds the
 * cancel and kill requests durably, so an agent that was cut off applies them when it is back. Its
 * revision when the task is (re)assigned is the task's fencing token.
 * @internal
 * @module
 */
import { encodeJsonRecord, parseJsonRecord } from '../protocol/json-record.js';

/** The value under a task's key. @internal */
export interface TaskRecord {
  readonly v: 1;
  /** The owning coordinator's id. */
  readonly coordinator: string;
  /** Tells this submission from an earlier one of the same id. */
  readonly nonce: string;
  readonly queue: string;
  readonly name: string;
  readonly cancel?: true;
  readonly kill?: true;
}

/** @internal */
export function encodeTaskRecord(record: TaskRecord): Uint8Array {
  return encodeJsonRecord(record);
}

/** Undefined for anything that is not a task record. @internal */
export function parseTaskRecord(bytes: Uint8Array): TaskRecord | undefined {
  const r = parseJsonRecord(bytes);
  if (r === undefined) return undefined;
  const ok =
    r.v === 1 &&
    typeof r.coordinator === 'string' &&
    typeof r.nonce === 'string' &&
    typeof r.queue === 'string' &&
    typeof r.name === 'string' &&
    (r.cancel === undefined || r.cancel === true) &&
    (r.kill === undefined || r.kill === true);
  return ok ? (r as unknown as TaskRecord) : undefined;
}
