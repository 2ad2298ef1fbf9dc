import { describe, expect, it } from 'vitest';
import { decode, decodeValue, encode, encodeValue, GARBAGE } from './codec.js';

/** What a structured-clone round trip gives back: the reference the fast path must match. */
function cloned(value: unknown): unknown {
  return decode(encode(value));
}

describe('task values: primitives without a serializer, the rest by structured clone', () => {
  it('primitive inputs and results come back as structured clone returns them, -0, NaN and lone surrogates included', () => {
    const values: unknown[] = [
      0,
      -0,
      42,
      -1.5e300,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.MIN_VALUE,
      true,
      false,
      null,
      undefined,
      '',
      'plain',
      'ünïcödé 😀',
      'lone \ud800 and \udfff surrogates',
      'x'.repeat(1_024),
    ];
    for (const value of values) {
      const bytes = encodeValue(value);
      // The fast path: a tag, no structured-clone header.
      expect(bytes[0], String(value)).toBe(0);
      expect(Object.is(decodeValue(bytes), cloned(value)), String(value)).toBe(true);
    }
  });

  it('anything else, and strings past 1,024 characters, go through structured clone', () => {
    const long = 'y'.repeat(1_025);
    const date = new Date(5);
    const values: unknown[] = [long, 10n, date, new Map([[1, { a: [1, 2] }]]), { nested: [undefined, -0] }];
    for (const value of values) {
      const bytes = encodeValue(value);
      expect(bytes[0]).toBe(0x54); // 'T', the header of every message
      expect(decodeValue(bytes)).toEqual(cloned(value));
    }
    expect(() => encodeValue(() => 1)).toThrow();
  });

  it('bytes that are neither decode as garbage, never throw', () => {
    const bad = [
      new Uint8Array(0),
      Uint8Array.of(0),
      Uint8Array.of(0, 99),
      Uint8Array.of(0, 5, 1, 2), // a number with too few bytes
      Uint8Array.of(0, 6, 65), // a UTF-16 string with an odd byte count
      Uint8Array.of(0, 1, 0), // undefined with a trailing byte
      Uint8Array.of(1, 2, 3),
      Buffer.from('TW\u0001old version'),
    ];
    for (const bytes of bad) expect(decodeValue(bytes)).toBe(GARBAGE);
  });

  it('a message of another protocol version is garbage', () => {
    const current = encode({ t: 'ack' });
    const older = Uint8Array.from(current);
    older[2] = 1;
    expect(decode(current)).toEqual({ t: 'ack' });
    expect(decode(older)).toBe(GARBAGE);
  });
});
