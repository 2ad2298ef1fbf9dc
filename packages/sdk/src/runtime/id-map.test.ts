// IdMap keeps entries of its own so that V8 never shrinks its table to nothing; they must stay
// invisible: sizes, lookups and iteration see exactly the ids that were set.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdMap } from './id-map.js';

describe('IdMap', () => {
  it('is empty when new: no size, no keys, no lookups', () => {
    const map = new IdMap<number>();
    expect(map.size).toBe(0);
    expect([...map.keys()]).toEqual([]);
    expect([...map.values()]).toEqual([]);
    expect([...map.entries()]).toEqual([]);
    expect(map.get('')).toBeUndefined();
    expect(map.has('')).toBe(false);
  });

  it('agrees with a Map model over random sets and deletes, in insertion order', () => {
    const idArb = fc.oneof(
      fc.constantFrom('', 'a', 'b', 'job-1', 'IdMap.keep.0'),
      fc.string({ maxLength: 6 }),
    );
    const opArb = fc.tuple(fc.boolean(), idArb, fc.integer());
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const map = new IdMap<number>();
        const model = new Map<string, number>();
        for (const [set, id, value] of ops) {
          if (set) {
            map.set(id, value);
            model.set(id, value);
          } else {
            map.delete(id);
            model.delete(id);
          }
          expect(map.size).toBe(model.size);
          expect(map.get(id)).toBe(model.get(id));
          expect(map.has(id)).toBe(model.has(id));
        }
        expect([...map.entries()]).toEqual([...model.entries()]);
        expect([...map.keys()]).toEqual([...model.keys()]);
        expect([...map.values()]).toEqual([...model.values()]);
      }),
      { numRuns: 300 },
    );
  });
});
