import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('warns with the stuck stack, hard-stops the JS loop, and escalates the native wait', () => {
  const run = spawnSync(process.execPath, [fileURLToPath(new URL('../src/main.js', import.meta.url))], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(run.status, run.stderr).toBe(0);
  const out = run.stdout;
  expect(out).toMatch(/\[WARN\] crunch-numbers: task did not react to cancelling for \d+ ms; stuck in:/);
  expect(out).toMatch(/at crunchNumbers \(.*stuck\.mjs/);
  expect(out).toContain('crunch-numbers ended CANCELED');
  expect(out).toMatch(/\[FATAL\] native-wait: fatal error: .*did not stop within 3000 ms/);
  expect(out).toContain('native-wait ended FAILED (abandoned by the watchdog)');
  expect(out).toContain('fatal handler calls: CancellationTimeoutError; health: fatal');
  expect(out).toContain('closed: both threads have exited');
});
