import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

const main = fileURLToPath(new URL('../src/main.js', import.meta.url));

describe('npm run demo', () => {
  it('cancels one job across the three executors, prints the timeline and summary, and exits 0', () => {
    const started = Date.now();
    const out = runExample(main);
    // The issue asks for under 15 s; the bound leaves room for a loaded CI machine.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(out).toContain('duplicate slot request refused: DUPLICATE_ALLOCATION');
    expect(out).toMatch(/worker\s+cooperative\s+CANCELING → CANCELED/);
    expect(out).toMatch(/worker\s+cpu-bound\s+CANCELING → CANCELED/);
    expect(out).toMatch(/process\s+deaf-tree\s+CANCELING → CANCELED/);
    expect(out).toMatch(/inline\s+finishes-anyway\s+CANCELING → FINISHED/);
    expect(out).toMatch(/inline\s+deaf-inline\s+CANCELING → FAILED/);
    expect(out).toContain('fatal error handler called: CancellationTimeoutError');
    expect(out).toMatch(/cpu-bound\s+still running \d+ ms after the cancel; stuck at spin/);
    expect(out).toMatch(/process tree: child \d+ gone, grandchild \d+ gone/);
    expect(out).toContain('job report: CANCELED, 5 tasks');
    expect(out).toMatch(/closed: every thread and process has exited/);
  });
});
