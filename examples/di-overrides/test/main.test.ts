import { expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

it('uses the fatal handler, scheduler and logger registered in the container', () => {
  const out = runExample(new URL('../src/main.js', import.meta.url));
  expect(out).toContain('[scheduler] timer for 5000 ms armed (fires after 500 ms)');
  expect(out).toContain('[log] task did not react to cancelling for');
  expect(out).toContain('[fatal handler] CancellationTimeoutError');
  expect(out).toContain('task deaf: FAILED, abandoned: true');
  expect(out).toContain('runtime health: fatal; restarts requested: 1');
});
