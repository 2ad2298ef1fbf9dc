import { expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

it('warns with the stuck stack, hard-stops the JS loop, and escalates the native wait', () => {
  const out = runExample(new URL('../src/main.js', import.meta.url));
  expect(out).toMatch(/\[WARN\] crunch-numbers: task did not react to cancelling for \d+ ms; stuck in:/);
  expect(out).toMatch(/at crunchNumbers \(.*stuck\.mjs/);
  expect(out).toContain('crunch-numbers ended CANCELED');
  expect(out).toMatch(/\[FATAL\] native-wait: fatal error: .*did not stop within 3000 ms/);
  expect(out).toContain('native-wait ended FAILED (abandoned by the watchdog)');
  expect(out).toContain('fatal handler calls: CancellationTimeoutError; health: fatal');
  expect(out).toContain('closed: both threads have exited');
});
