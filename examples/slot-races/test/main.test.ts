import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('refuses the late duplicate request and leaves no zombie slot', () => {
  const run = spawnSync(process.execPath, [fileURLToPath(new URL('../src/main.js', import.meta.url))], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toContain('refused with DuplicateAllocationError (DUPLICATE_ALLOCATION)');
  expect(run.stdout).toContain('#0 FREE, #1 ACTIVE (AID1), #2 FREE');
  expect(run.stdout).toContain("freeSlot('AID1') freed slot 1");
  expect(run.stdout).toContain('#0 FREE, #1 FREE, #2 FREE');
});
