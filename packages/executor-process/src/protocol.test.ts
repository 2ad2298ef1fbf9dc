import { describe, expect, it } from 'vitest';
import {
  checkChildMessage,
  DEFAULT_MAX_MESSAGE_BYTES,
  encodeFrame,
  FRAME_MAGIC,
  FrameDecoder,
  isHostMessage,
} from './protocol.js';

const error = { __taskwardenError: 1, name: 'Error', message: 'boom', props: {} } as const;

function decodeAll(decoder: FrameDecoder, chunk: Buffer): unknown[] {
  const { messages, error } = decoder.push(chunk);
  if (error) throw error;
  return messages;
}

describe('FrameDecoder', () => {
  it('decodes frames split across chunks and several frames in one chunk', () => {
    const a = encodeFrame({ type: 'started', id: 1 });
    const b = encodeFrame({ type: 'result', id: 1, ok: true, value: { big: 10n, when: new Date(0) } });
    const bytes = Buffer.concat([a, b]);
    const decoder = new FrameDecoder();
    const messages: unknown[] = [];
    for (let i = 0; i < bytes.length; i += 3) messages.push(...decodeAll(decoder, bytes.subarray(i, i + 3)));
    expect(messages).toEqual([
      { type: 'started', id: 1 },
      { type: 'result', id: 1, ok: true, value: { big: 10n, when: new Date(0) } },
    ]);
    expect(decodeAll(new FrameDecoder(), bytes)).toHaveLength(2);
    // Every split point, header included.
    for (let cut = 0; cut <= bytes.length; cut++) {
      const split = new FrameDecoder();
      const both = [...decodeAll(split, bytes.subarray(0, cut)), ...decodeAll(split, bytes.subarray(cut))];
      expect(both).toHaveLength(2);
    }
  });

  it('refuses a bad header, an oversized frame and an undecodable payload, then stays failed', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(Buffer.from('garbage garbage\n')).error?.message).toMatch(
      /bad frame header 0x67617262/,
    );
    expect(decoder.push(encodeFrame({ type: 'started', id: 1 }))).toEqual({ messages: [], error: undefined });

    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(FRAME_MAGIC, 0);
    huge.writeUInt32BE(0xffff_ffff, 4);
    expect(new FrameDecoder().push(huge).error?.message).toMatch(/exceeds maxMessageBytes/);

    const bad = Buffer.alloc(12);
    bad.writeUInt32BE(FRAME_MAGIC, 0);
    bad.writeUInt32BE(4, 4);
    bad.set([1, 2, 3, 4], 8);
    expect(new FrameDecoder().push(bad).error?.message).toMatch(/undecodable frame/);
  });

  it('refuses a frame above its limit from the header alone, before buffering it', () => {
    const frame = encodeFrame({ type: 'result', id: 1, ok: true, value: Buffer.alloc(100_000) });
    const decoder = new FrameDecoder(DEFAULT_MAX_MESSAGE_BYTES);
    expect(decoder.push(frame).messages).toHaveLength(1);
    const small = new FrameDecoder(64 * 1024);
    expect(small.push(frame.subarray(0, 8)).error?.message).toMatch(
      /a frame of \d+ bytes exceeds maxMessageBytes \(65536\)/,
    );
  });

  it('delivers the messages before a violation in the same chunk, then reports it', () => {
    const valid = encodeFrame({ type: 'started', id: 1 });
    const second = encodeFrame({ type: 'running', id: 1 });
    const result = new FrameDecoder().push(Buffer.concat([valid, second, Buffer.from('garbage!')]));
    expect(result.messages).toEqual([
      { type: 'started', id: 1 },
      { type: 'running', id: 1 },
    ]);
    expect(result.error?.message).toMatch(/bad frame header/);
  });

  it('decodes a 64 MiB frame arriving in 64 KiB chunks without re-copying it per chunk', () => {
    const value = Buffer.alloc(64 * 1024 * 1024, 0x5a);
    const frame = encodeFrame({ type: 'result', id: 1, ok: true, value });
    const decoder = new FrameDecoder();
    const startedAt = Date.now();
    const messages: unknown[] = [];
    for (let offset = 0; offset < frame.length; offset += 64 * 1024) {
      messages.push(...decodeAll(decoder, frame.subarray(offset, offset + 64 * 1024)));
    }
    const elapsedMs = Date.now() - startedAt;
    expect(messages).toHaveLength(1);
    expect((messages[0] as { value: Buffer }).value.equals(value)).toBe(true);
    // Not a speed assertion: a bound only a quadratic decoder misses (it took ~35 s).
    expect(elapsedMs).toBeLessThan(10_000);
  });

  it('throws from encodeFrame, before writing, for values that cannot be cloned or are too large', () => {
    expect(() => encodeFrame({ type: 'result', id: 1, ok: true, value: () => 1 })).toThrow();
    expect(() =>
      encodeFrame({ type: 'result', id: 1, ok: true, value: Buffer.alloc(70_000) }, 65_536),
    ).toThrow(/more than maxMessageBytes \(65536\)/);
  });
});

describe('encodeFrame with an error too large for the limit', () => {
  const huge = {
    ...error,
    name: 'RangeError',
    message: 'x'.repeat(100_000),
    stack: 'y'.repeat(100_000),
    props: { a: 1 },
  };
  const decode = (frame: Buffer) => decodeAll(new FrameDecoder(), frame)[0];

  it.each([
    ['a cancel reason', { type: 'cancel', id: 1, reason: huge } as const, 'reason'],
    ['a failed result', { type: 'result', id: 1, ok: false, error: huge } as const, 'error'],
    ['an uncaught exception', { type: 'uncaught', error: huge } as const, 'error'],
  ])('sends %s cut to its name and the first 4 096 characters of its message', (_, message, key) => {
    const decoded = decode(encodeFrame(message, 64 * 1024)) as Record<string, unknown>;
    expect(decoded[key]).toEqual({
      __taskwardenError: 1,
      name: 'RangeError',
      message: 'x'.repeat(4096),
      props: {},
    });
    expect(checkChildMessage(decoded) === decoded || isHostMessage(decoded)).toBe(true);
  });

  it('still refuses a value that is too large', () => {
    expect(() =>
      encodeFrame({ type: 'result', id: 1, ok: true, value: 'x'.repeat(100_000) }, 64 * 1024),
    ).toThrow(RangeError);
  });
});

describe('message shapes', () => {
  it.each([
    [{ type: 'started', id: 1 }, true],
    [{ type: 'running', id: 2 }, true],
    [{ type: 'result', id: 1, ok: true, value: undefined }, true],
    [{ type: 'result', id: 1, ok: false, error }, true],
    [{ type: 'result', id: 1, ok: false, error, unserializable: 'result' }, true],
    [{ type: 'log', id: 1, line: '{}' }, true],
    [{ type: 'uncaught', error }, true],
    [null, false],
    [42, false],
    [{ type: 'started' }, false],
    [{ type: 'started', id: 0 }, false],
    [{ type: 'started', id: 1.5 }, false],
    [{ type: 'result', id: 1, ok: true }, false],
    [{ type: 'result', id: 1, ok: 'yes', value: 1 }, false],
    [{ type: 'result', id: 1, ok: false, error: new Error('raw') }, false],
    [{ type: 'log', id: 1, line: 5 }, false],
    [{ type: 'hello', id: 1 }, false],
  ])('checkChildMessage(%o) accepts: %s', (message, valid) => {
    expect(typeof checkChildMessage(message) !== 'string').toBe(valid);
  });

  it('checks host messages', () => {
    const task = { executionId: 'e', jobId: 'j', allocationId: 'a', name: 'n', attempt: 1 };
    expect(
      isHostMessage({
        type: 'run',
        id: 1,
        task,
        module: '/m.js',
        export: undefined,
        input: 1,
        logLevel: 'info',
      }),
    ).toBe(true);
    expect(isHostMessage({ type: 'cancel', id: 1, reason: error })).toBe(true);
    expect(isHostMessage({ type: 'run', id: 1, task, module: 7, logLevel: 'info' })).toBe(false);
    expect(isHostMessage({ type: 'cancel', id: 1, reason: 'why' })).toBe(false);
  });
});
