import { expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

it('refuses the late duplicate request and leaves no zombie slot', () => {
  const out = runExample(new URL('../src/main.js', import.meta.url));
  expect(out).toContain('refused with DuplicateAllocationError (DUPLICATE_ALLOCATION)');
  expect(out).toContain('#0 FREE, #1 ACTIVE (AID1), #2 FREE');
  expect(out).toContain("freeSlot('AID1') freed slot 1");
  expect(out).toContain('#0 FREE, #1 FREE, #2 FREE');
});
