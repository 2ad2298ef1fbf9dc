/**
 * Telling the outcomes of a KV compare-and-set apart. A stale revision is a definite "no" (someone
 * else wrote first); anything else (a timeout, a lost connection) leaves the outcome unknown, and
 * every write of the cluster is made so that trying it again is safe.
 * @internal
 * @module
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { NoRespondersError, TimeoutError } from '@nats-io/transport-node';

/** The server refused a create or an update because the key is not at the expected revision. @internal */
export function isWrongRevision(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence;
}

/** A request found no subscriber at all: the message was not delivered to anyone. @internal */
export function isNoResponders(error: unknown): boolean {
  if (error instanceof NoRespondersError) return true;
  // The client wraps it in a RequestError whose cause is the NoRespondersError.
  return error instanceof Error && error.cause instanceof NoRespondersError;
}

/** A request timed out: it may or may not have been delivered and acted upon. @internal */
export function isTimeout(error: unknown): boolean {
  if (error instanceof TimeoutError) return true;
  return error instanceof Error && error.cause instanceof TimeoutError;
}
