// Generated execution ids are kept as numbers; the mapping between ids and index keys must be a
// bijection, or an index keyed by it would let a duplicate id through (or refuse a fresh one).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { executionKeyOf, formatExecutionId, nextExecutionNumber } from './execution-id.js';

const generated = formatExecutionId(nextExecutionNumber());
const prefix = generated.slice(0, generated.indexOf('-') + 1);

describe('execution id keys', () => {
  it('a generated id has the form <16 hex digits>-<base 36> and its number as key', () => {
    expect(generated).toMatch(/^[0-9a-f]{16}-[0-9a-z]+$/);
    const n = nextExecutionNumber();
    expect(executionKeyOf(formatExecutionId(n))).toBe(n);
  });

  it('every id maps to one key and back (any string, and strings in or near the generated form)', () => {
    const nearGenerated = fc
      .oneof(
        fc.string(),
        fc.stringMatching(/^[0-9a-z+\-. ]{0,14}$/),
        fc.nat().map((n) => n.toString(36)),
        fc.maxSafeNat().map((n) => n.toString(36)),
        fc.constantFrom('0', '00', '01', 'Z', '1e3', '+1', '-1', '9007199254740993', 'zzzzzzzzzzzzz'),
      )
      .map((suffix) => prefix + suffix);
    fc.assert(
      fc.property(fc.oneof(fc.string(), nearGenerated), (id) => {
        const key = executionKeyOf(id);
        expect(formatExecutionId(key)).toBe(id);
        if (typeof key === 'number') expect(executionKeyOf(formatExecutionId(key))).toBe(key);
      }),
      { numRuns: 2_000 },
    );
  });

  it('formats any number as the prefix and its base-36 digits, in any order (the cached head is per call)', () => {
    const near = (n: number) => [n - 1, n, n + 1];
    for (const n of [0, 1, 35, 36, 1295, 1296, 1297, 46655, 46656, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
      for (const m of near(n).filter((x) => x >= 0 && Number.isSafeInteger(x))) {
        expect(formatExecutionId(m)).toBe(prefix + m.toString(36));
      }
    }
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.nat(5_000), fc.maxSafeNat(), fc.integer({ min: Number.MIN_SAFE_INTEGER, max: -1 })),
          { minLength: 1, maxLength: 50 },
        ),
        (numbers) => {
          for (const n of numbers) expect(formatExecutionId(n)).toBe(prefix + n.toString(36));
        },
      ),
      { numRuns: 500 },
    );
  });
});
