import { expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

it('cancels the job with Prefect semantics and prints every final state', () => {
  const out = runExample(new URL('../src/main.js', import.meta.url));
  expect(out).toContain('before: waiting-for-thread is DEPLOYING');
  expect(out).toContain('born CANCELED');
  expect(out).toMatch(/running-in-thread\s+CANCELED/);
  expect(out).toMatch(/waiting-for-thread\s+CANCELED/);
  expect(out).toMatch(/running-in-process\s+CANCELED/);
  expect(out).toMatch(/finishes-anyway\s+FINISHED/);
  expect(out).toMatch(/submitted-late\s+CANCELED/);
  expect(out).toContain('other job untouched: other-job-task ended FINISHED');
  expect(out).toContain(
    'job events: nightly-report: RUNNING → CANCELING, nightly-report: CANCELING → CANCELED',
  );
  const invoked = /invoked: (.*)/.exec(out)?.[1]?.split(', ') ?? [];
  expect(invoked).not.toContain('waiting-for-thread');
  expect(invoked).not.toContain('submitted-late');
  expect(invoked).toContain('running-in-thread');
});
