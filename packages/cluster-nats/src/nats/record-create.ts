/**
 * Creating a key in a KV bucket the way `kv.create` does — a JetStream publish to the key's subject
 * with `Nats-Expected-Last-Subject-Sequence: 0`, which the server refuses when the subject has any
 * message — but over the {@link Requester}, with the acknowledgement parsed here. One per task on a
 * coordinator, so it is the hottest write of the cluster.
 *
 * Only the plain outcome is handled: created, or refused because the key has a message (a live
 * record, or a delete marker: the caller reads the key and decides). Anything else is thrown.
 * @internal
 * @module
 */
import { JetStreamApiCodes } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';
import { headers } from '@nats-io/transport-node';
import type { Requester } from './requester.js';

/** How a {@link createRecord} ended. @internal */
export type CreateOutcome =
  | { readonly created: true; readonly revision: number }
  | { readonly created: false };

let expectNew: MsgHdrs | undefined;

/** The same headers for every create: the server only reads them. */
function expectNewHeaders(): MsgHdrs {
  if (!expectNew) {
    expectNew = headers();
    expectNew.set('Nats-Expected-Last-Subject-Sequence', '0');
  }
  return expectNew;
}

/** Thrown for an acknowledgement that is neither a revision nor "wrong last sequence". @internal */
export class RecordCreateError extends Error {
  override readonly name = 'RecordCreateError';
}

/**
 * Creates `key` in `bucket` (a bucket of this cluster, so `$KV.<bucket>.<key>` is its subject).
 * Throws what the request threw (a timeout leaves the outcome unknown: the caller reads the key).
 * @internal
 */
export async function createRecord(
  requester: Requester,
  bucket: string,
  key: string,
  value: Uint8Array,
  timeoutMs: number,
): Promise<CreateOutcome> {
  const msg = await requester.request(`$KV.${bucket}.${key}`, value, timeoutMs, expectNewHeaders());
  let ack: { seq?: unknown; error?: { err_code?: unknown; description?: unknown } };
  try {
    ack = JSON.parse(Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).toString('utf8'));
  } catch {
    throw new RecordCreateError('an unreadable acknowledgement of a record create');
  }
  if (typeof ack?.seq === 'number' && ack.error === undefined) return { created: true, revision: ack.seq };
  if (ack?.error?.err_code === JetStreamApiCodes.StreamWrongLastSequence) return { created: false };
  throw new RecordCreateError(
    `a record create was refused: ${String(ack?.error?.description ?? 'no reason')}`,
  );
}
