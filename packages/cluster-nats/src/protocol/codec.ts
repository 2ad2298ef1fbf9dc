/**
 * How every message of the cluster is encoded on the wire: three magic bytes (`TW` and a version),
 * then a V8 structured-clone payload (`v8.Serializer`, the algorithm of `structuredClone` and of
 * Node's `'advanced'` IPC serialization). Inputs, results and errors thus keep what structured
 * clone keeps (`Date`, `BigInt`, `Map`, typed arrays, ...).
 *
 * The values a task takes and produces (its input, result and progress) are encoded on their own
 * ({@link encodeValue}): the same structured clone, except that a number, a boolean, `null`,
 * `undefined` or a short string — most inputs are an id or a count — is written as a tag and its
 * bytes, without building a serializer (the most expensive part of copying a small value).
 *
 * Decoding never throws: anything that is not one of our messages (a stranger publishing on the
 * cluster's subjects, a truncated frame) comes back as {@link GARBAGE}.
 * @internal
 * @module
 */
import { DefaultDeserializer, DefaultSerializer } from 'node:v8';

/** `TW` and the protocol's version (2: offered tasks and report events as tuples). */
const MAGIC = Buffer.from([0x54, 0x57, 0x02]);

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

/** First byte of a value written by the fast path (a message starts with `T`). */
const PRIMITIVE = 0x00;
const UNDEFINED = 1;
const NULL = 2;
const TRUE = 3;
const FALSE = 4;
const NUMBER = 5;
const STRING = 6;
/** Longer strings go through structured clone, which writes Latin-1 strings in one byte a character. */
const MAX_FAST_STRING = 1_024;

const UNDEFINED_BYTES = Uint8Array.of(PRIMITIVE, UNDEFINED);
const NULL_BYTES = Uint8Array.of(PRIMITIVE, NULL);
const TRUE_BYTES = Uint8Array.of(PRIMITIVE, TRUE);
const FALSE_BYTES = Uint8Array.of(PRIMITIVE, FALSE);

/**
 * Encodes a task's input, result or progress value: {@link encode}, or a tag and its bytes for a
 * number, a boolean, `null`, `undefined` or a string of up to 1,024 characters (UTF-16, so lone
 * surrogates survive as they do in structured clone). Throws what structured clone throws. The
 * bytes returned may be shared between calls: never write to them. @internal
 */
export function encodeValue(value: unknown): Uint8Array {
  switch (typeof value) {
    case 'number': {
      const bytes = Buffer.allocUnsafe(10);
      bytes[0] = PRIMITIVE;
      bytes[1] = NUMBER;
      bytes.writeDoubleLE(value, 2);
      return bytes;
    }
    case 'string': {
      if (value.length > MAX_FAST_STRING) break;
      const bytes = Buffer.allocUnsafe(2 + 2 * value.length);
      bytes[0] = PRIMITIVE;
      bytes[1] = STRING;
      bytes.write(value, 2, 'utf16le');
      return bytes;
    }
    case 'boolean':
      return value ? TRUE_BYTES : FALSE_BYTES;
    case 'undefined':
      return UNDEFINED_BYTES;
    default:
      if (value === null) return NULL_BYTES;
  }
  return encode(value);
}

/** Decodes bytes made by {@link encodeValue}; {@link GARBAGE} for anything else. @internal */
export function decodeValue(bytes: Uint8Array): unknown {
  if (bytes.length < 2 || bytes[0] !== PRIMITIVE) return decode(bytes);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes[1]) {
    case NUMBER:
      return bytes.length === 10 ? buffer.readDoubleLE(2) : GARBAGE;
    case STRING:
      return bytes.length % 2 === 0 ? buffer.toString('utf16le', 2) : GARBAGE;
    case TRUE:
      return bytes.length === 2 ? true : GARBAGE;
    case FALSE:
      return bytes.length === 2 ? false : GARBAGE;
    case NULL:
      return bytes.length === 2 ? null : GARBAGE;
    case UNDEFINED:
      return bytes.length === 2 ? undefined : GARBAGE;
    default:
      return GARBAGE;
  }
}
