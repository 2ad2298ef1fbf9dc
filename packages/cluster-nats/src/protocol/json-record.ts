/**
 * The JSON encoding of the records the cluster keeps in its KV buckets (task records, leases).
 * @internal
 * @module
 */

/** A record as UTF-8 JSON. @internal */
export function encodeJsonRecord(record: object): Uint8Array {
  return Buffer.from(JSON.stringify(record), 'utf8');
}

/**
 * The object a KV value holds, its fields not yet checked; undefined when the value is not JSON or
 * not an object (garbage from a stranger). @internal
 */
export function parseJsonRecord(bytes: Uint8Array): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}
