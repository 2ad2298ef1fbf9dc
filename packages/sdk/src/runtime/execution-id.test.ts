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
});
