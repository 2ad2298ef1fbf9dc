// The runtime's index of live tasks by execution id key must behave as a Map that refuses a taken
// key, whatever the keys: consecutive generated numbers, numbers one table length apart (they share
// an entry), far-apart numbers that make it grow and shrink, and strings.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LiveTaskIndex } from './live-task-index.js';

type Op =
  | { kind: 'add'; key: string | number }
  | { kind: 'delete'; key: string | number; other: boolean }
  | { kind: 'get'; key: string | number };

const keyArb = fc.oneof(
  fc.nat(300),
  fc.nat(20).map((n) => n * 128),
  fc.nat(20).map((n) => n * 4096 + 7),
  fc.maxSafeNat(),
  fc.constantFrom('a', 'b', 'exec-1', 'x'.repeat(40)),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: keyArb.map((key) => ({ kind: 'add' as const, key })) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('delete' as const), key: keyArb, other: fc.boolean() }),
  },
  { weight: 2, arbitrary: keyArb.map((key) => ({ kind: 'get' as const, key })) },
);

describe('LiveTaskIndex', () => {
  it('agrees with a Map model over random sequences (collisions, growth, shrinking, strings)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), (ops) => {
        const index = new LiveTaskIndex<{ key: string | number }>();
        const model = new Map<string | number, { key: string | number }>();
        for (const op of ops) {
          if (op.kind === 'add') {
            const value = { key: op.key };
            const added = index.add(op.key, value);
            expect(added).toBe(!model.has(op.key));
            if (added) model.set(op.key, value);
          } else if (op.kind === 'delete') {
            // Deleting with another value than the indexed one must leave the entry alone.
            const value = op.other ? { key: op.key } : model.get(op.key);
            if (value !== undefined) index.delete(op.key, value);
            if (!op.other) model.delete(op.key);
          } else {
            expect(index.get(op.key)).toBe(model.get(op.key));
          }
          expect(index.size).toBe(model.size);
        }
        for (const [key, value] of model) expect(index.get(key)).toBe(value);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a key whose entry another live key holds, after that one goes and after growing', () => {
    const index = new LiveTaskIndex<object>();
    const old = {};
    const young = {};
    index.add(5, old);
    index.add(5 + 128, young);
    expect(index.get(5 + 128)).toBe(young);
    index.delete(5, old);
    expect(index.get(5)).toBeUndefined();
    expect(index.get(5 + 128)).toBe(young);
    // Its entry is free now, yet the key is still live (in the overflow): a second one is refused.
    expect(index.add(5 + 128, {})).toBe(false);
    expect(index.size).toBe(1);
    const many = Array.from({ length: 5_000 }, (_, n) => ({ n }));
    for (const value of many) expect(index.add(value.n * 128 + 9, value)).toBe(true);
    for (const value of many) expect(index.get(value.n * 128 + 9)).toBe(value);
    expect(index.add(5 + 128, {})).toBe(false);
    for (const value of many) index.delete(value.n * 128 + 9, value);
    expect(index.size).toBe(1);
    expect(index.get(5 + 128)).toBe(young);
  });
});
