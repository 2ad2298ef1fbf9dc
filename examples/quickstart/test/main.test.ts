import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('runs four thumbnail tasks on worker threads and exits 0', () => {
  const run = spawnSync(process.execPath, [fileURLToPath(new URL('../src/main.js', import.meta.url))], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(run.status, run.stderr).toBe(0);
  for (const file of ['cat', 'dog', 'owl', 'fox']) {
    expect(run.stdout).toContain(`thumbnail ${file}.png: FINISHED {"file":"${file}.320.png"`);
  }
  expect(run.stdout.trim().endsWith('done')).toBe(true);
});
