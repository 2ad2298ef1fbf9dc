import { describe, expect, it } from 'vitest';
import {
  errorSummary,
  PROGRESS_LIMITS,
  safeText,
  TRUNCATION_MARKER,
  toJsonSafe,
  truncate,
} from './safe-json.js';

describe('toJsonSafe', () => {
  it('keeps plain JSON values as they are', () => {
    expect(toJsonSafe(0.25)).toBe(0.25);
    expect(toJsonSafe('half')).toBe('half');
    expect(toJsonSafe({ done: 3, total: 10, files: ['a', 'b'], ok: true, none: null })).toEqual({
      done: 3,
      total: 10,
      files: ['a', 'b'],
      ok: true,
      none: null,
    });
  });

  it('turns what JSON cannot hold into readable stand-ins', () => {
    expect(toJsonSafe(123n)).toBe('123n');
    expect(toJsonSafe(Number.NaN)).toBe('NaN');
    expect(toJsonSafe(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(toJsonSafe(undefined)).toBeNull();
    expect(toJsonSafe(new Date(Date.UTC(2024, 0, 2)))).toBe('2024-01-02T00:00:00.000Z');
    expect(toJsonSafe(new Date(Number.NaN))).toBe('Invalid Date');
    expect(
      toJsonSafe(
        new Map<unknown, unknown>([
          ['a', 1n],
          [2, new Set([3])],
        ]),
      ),
    ).toEqual({
      $map: [
        ['a', '1n'],
        [2, { $set: [3] }],
      ],
    });
    expect(toJsonSafe(new Uint8Array(1024))).toBe('[Uint8Array(1024 bytes)]');
    expect(toJsonSafe(new TypeError('bad <b>'))).toEqual({ name: 'TypeError', message: 'bad <b>' });
    expect(toJsonSafe(Symbol('s'))).toBe('Symbol(s)');
    // The result always survives JSON.stringify.
    expect(() => JSON.stringify(toJsonSafe({ a: 1n, b: new Map([[1n, 2n]]) }))).not.toThrow();
  });

  it('cuts cycles, depth, breadth and the number of values', () => {
    const cycle: Record<string, unknown> = { name: 'loop' };
    cycle.self = cycle;
    expect(toJsonSafe(cycle)).toEqual({ name: 'loop', self: '[circular]' });

    const deep = { a: { b: { c: { d: { e: 1 } } } } };
    expect(JSON.stringify(toJsonSafe(deep))).toContain('[…]');

    const wide = Array.from({ length: 1_000 }, (_, i) => i);
    const items = toJsonSafe(wide) as unknown[];
    expect(items).toHaveLength(PROGRESS_LIMITS.maxItems + 1);
    expect(items.at(-1)).toBe(`[${1_000 - PROGRESS_LIMITS.maxItems} more]`);

    const many = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(toJsonSafe(many) as object)).toHaveLength(PROGRESS_LIMITS.maxItems + 1);

    // 20 x 20 x 20 values would be 8,000: the node budget stops far sooner.
    const grid = Array.from({ length: 20 }, () =>
      Array.from({ length: 20 }, () => Array.from({ length: 20 }, () => 1)),
    );
    expect(JSON.stringify(toJsonSafe(grid)).length).toBeLessThan(2_000);
  });

  it('never throws on hostile values: throwing getters, Proxies, toJSON', () => {
    const getter = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    expect(toJsonSafe(getter)).toEqual({ boom: '[unreadable]' });

    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('ownKeys');
        },
      },
    );
    expect(toJsonSafe(proxy)).toBe('[unreadable]');
    expect(toJsonSafe({ toJSON: () => ({ leaked: true }), x: 1 })).toEqual({
      toJSON: expect.any(String),
      x: 1,
    });
  });

  it('keeps a key named __proto__ as data', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}}');
    const safe = toJsonSafe(value);
    expect(JSON.stringify(safe)).toBe('{"__proto__":{"polluted":true}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('truncate', () => {
  it('cuts huge strings with a marker that says how much was dropped', () => {
    const huge = 'x'.repeat(5_000_000);
    const cut = truncate(huge, 100);
    expect(cut).toBe(`${'x'.repeat(100)}${TRUNCATION_MARKER}4999900 chars]`);
    expect(truncate('short', 100)).toBe('short');
  });

  it('never splits a surrogate pair', () => {
    const cut = truncate(`${'a'.repeat(9)}😀tail`, 10);
    expect(cut.startsWith(`${'a'.repeat(9)}${TRUNCATION_MARKER}`)).toBe(true);
    expect(JSON.stringify(cut)).not.toContain('\\ud83d');
  });
});

describe('safeText and errorSummary', () => {
  it('read anything, even values that throw when printed', () => {
    const hostile = {
      toString() {
        throw new Error('no');
      },
    };
    expect(safeText(hostile, 50)).toBe('[unprintable object]');
    const error = Object.defineProperty(new Error('x'), 'message', {
      get() {
        throw new Error('no');
      },
    });
    expect(errorSummary(error, 50)).toEqual({ name: 'Error', message: '[unreadable error]' });
    expect(errorSummary('plain string thrown', 50)).toEqual({
      name: 'Error',
      message: 'plain string thrown',
    });
    expect(errorSummary(new RangeError('m'.repeat(100)), 10).message).toContain(TRUNCATION_MARKER);
  });
});
