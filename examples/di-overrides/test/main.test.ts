import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('uses the fatal handler, scheduler and logger registered in the container', () => {
  const run = spawnSync(process.execPath, [fileURLToPath(new URL('../src/main.js', import.meta.url))], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toContain('[scheduler] timer for 5000 ms armed (fires after 500 ms)');
  expect(run.stdout).toContain('[log] task did not react to cancelling for');
  expect(run.stdout).toContain('[fatal handler] CancellationTimeoutError');
  expect(run.stdout).toContain('task deaf: FAILED, abandoned: true');
  expect(run.stdout).toContain('runtime health: fatal; restarts requested: 1');
});
