/**
 * What a lease key holds (JSON, so `nats kv get <cluster>-leases a.<agent>` is readable): who holds
 * it, in which incarnation (`epoch`), for how long without renewal (`leaseMs`), and whether it is
 * `live`, was taken over as `dead` by an observer, or was `released` by its holder.
 * @internal
 * @module
 */

import { encodeJsonRecord, parseJsonRecord } from '../protocol/json-record.js';
import { isNameToken } from '../protocol/subjects.js';

/** The record under a lease key. @internal */
export interface LeaseRecord {
  readonly v: 1;
  readonly kind: 'agent' | 'coordinator';
  /** The agent's name or the coordinator's id. */
  readonly name: string;
  /** Random per acquisition: a holder that lost its lease and takes a new one has a new epoch. */
  readonly epoch: string;
  readonly state: 'live' | 'dead' | 'released';
  /** How long the lease holds without renewal. */
  readonly leaseMs: number;
  readonly host: string;
  readonly pid: number;
  /** Agents: the queue they serve. */
  readonly queue?: string;
  /** Agents: tasks at once. */
  readonly capacity?: number;
  /** Agents: the keys of their executors. */
  readonly executors?: readonly string[];
  /** `dead`: the name of whoever took it over. */
  readonly takenBy?: string;
}

/** Encodes a record for the KV. @internal */
export function encodeLeaseRecord(record: LeaseRecord): Uint8Array {
  return encodeJsonRecord(record);
}

/** Parses a KV value; undefined when it is not a lease record (garbage from a stranger). @internal */
export function parseLeaseRecord(bytes: Uint8Array): LeaseRecord | undefined {
  const r = parseJsonRecord(bytes);
  if (r === undefined) return undefined;
  const ok =
    r.v === 1 &&
    (r.kind === 'agent' || r.kind === 'coordinator') &&
    isNameToken(r.name) &&
    typeof r.epoch === 'string' &&
    r.epoch.length > 0 &&
    (r.state === 'live' || r.state === 'dead' || r.state === 'released') &&
    typeof r.leaseMs === 'number' &&
    Number.isFinite(r.leaseMs) &&
    r.leaseMs > 0 &&
    typeof r.host === 'string' &&
    typeof r.pid === 'number' &&
    (r.queue === undefined || isNameToken(r.queue)) &&
    (r.capacity === undefined || (Number.isSafeInteger(r.capacity) && (r.capacity as number) >= 0)) &&
    (r.executors === undefined ||
      (Array.isArray(r.executors) && r.executors.every((key) => typeof key === 'string')));
  return ok ? (r as unknown as LeaseRecord) : undefined;
}
