import { expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

it('runs four thumbnail tasks on worker threads and exits 0', () => {
  const out = runExample(new URL('../src/main.js', import.meta.url));
  for (const file of ['cat', 'dog', 'owl', 'fox']) {
    expect(out).toContain(`thumbnail ${file}.png: FINISHED {"file":"${file}.320.png"`);
  }
  expect(out.trim().endsWith('done')).toBe(true);
});
