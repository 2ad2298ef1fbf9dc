import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../src/main.js', import.meta.url));

describe('npm run demo', () => {
  it('cancels one job across the three executors, prints the timeline and summary, and exits 0', () => {
    const started = Date.now();
    const run = spawnSync(process.execPath, [main], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    const out = run.stdout;
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
