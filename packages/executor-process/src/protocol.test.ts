import { describe, expect, it } from 'vitest';
import { checkChildMessage, encodeFrame, FRAME_MAGIC, FrameDecoder, isHostMessage } from './protocol.js';

const error = { __taskwardenError: 1, name: 'Error', message: 'boom', props: {} } as const;

describe('FrameDecoder', () => {
  it('decodes frames split across chunks and several frames in one chunk', () => {
    const a = encodeFrame({ type: 'started', id: 1 });
    const b = encodeFrame({ type: 'result', id: 1, ok: true, value: { big: 10n, when: new Date(0) } });
    const bytes = Buffer.concat([a, b]);
    const decoder = new FrameDecoder();
    const messages: unknown[] = [];
    for (let i = 0; i < bytes.length; i += 3) messages.push(...decoder.push(bytes.subarray(i, i + 3)));
    expect(messages).toEqual([
      { type: 'started', id: 1 },
      { type: 'result', id: 1, ok: true, value: { big: 10n, when: new Date(0) } },
    ]);
    expect(new FrameDecoder().push(bytes)).toHaveLength(2);
  });

  it('refuses a bad header, an oversized frame and an undecodable payload, then stays failed', () => {
    const decoder = new FrameDecoder();
    expect(() => decoder.push(Buffer.from('garbage garbage\n'))).toThrow(/bad frame header 0x67617262/);
    expect(decoder.push(encodeFrame({ type: 'started', id: 1 }))).toEqual([]);

    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(FRAME_MAGIC, 0);
    huge.writeUInt32BE(0xffff_ffff, 4);
    expect(() => new FrameDecoder().push(huge)).toThrow(/exceeds/);

    const bad = Buffer.alloc(12);
    bad.writeUInt32BE(FRAME_MAGIC, 0);
    bad.writeUInt32BE(4, 4);
    bad.set([1, 2, 3, 4], 8);
    expect(() => new FrameDecoder().push(bad)).toThrow(/undecodable frame/);
  });

  it('throws from encodeFrame, before writing, for values that cannot be cloned', () => {
    expect(() => encodeFrame({ type: 'result', id: 1, ok: true, value: () => 1 })).toThrow();
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
