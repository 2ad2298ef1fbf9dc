/**
 * How every message of the cluster is encoded on the wire: three magic bytes (`TW` and a version),
 * then a V8 structured-clone payload (`v8.Serializer`, the algorithm of `structuredClone` and of
 * Node's `'advanced'` IPC serialization). Inputs, results and errors thus keep what structured
 * clone keeps (`Date`, `BigInt`, `Map`, typed arrays, ...).
 *
 * Decoding never throws: anything that is not one of our messages (a stranger publishing on the
 * cluster's subjects, a truncated frame) comes back as {@link GARBAGE}.
 * @internal
 * @module
 */
import { DefaultDeserializer, DefaultSerializer } from 'node:v8';

const MAGIC = Buffer.from([0x54, 0x57, 0x01]);

/** What {@link decode} returns for bytes that are not a message of this protocol. @internal */
export const GARBAGE: unique symbol = Symbol('garbage');

/**
 * Encodes a value; throws what structured clone throws for a value it cannot copy (a function, a
 * symbol, a class instance with private state, ...). @internal
 */
export function encode(value: unknown): Uint8Array {
  const serializer = new DefaultSerializer();
  serializer.writeRawBytes(MAGIC);
  serializer.writeHeader();
  serializer.writeValue(value);
  return serializer.releaseBuffer();
}

/** Decodes bytes made by {@link encode}; {@link GARBAGE} for anything else. @internal */
export function decode(bytes: Uint8Array): unknown {
  if (bytes.length < MAGIC.length + 2) return GARBAGE;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return GARBAGE;
  try {
    const deserializer = new DefaultDeserializer(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    );
    deserializer.readRawBytes(MAGIC.length);
    deserializer.readHeader();
    return deserializer.readValue();
  } catch {
    return GARBAGE;
  }
}
