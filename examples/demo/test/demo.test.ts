import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../src/main.js', import.meta.url));

describe('npm run demo', () => {
  it('prints the timeline and the summary, and exits 0', () => {
    const run = spawnSync(process.execPath, [main], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/finishes\s+RUNNING → FINISHED/);
    expect(run.stdout).toMatch(/cooperative\s+CANCELING → CANCELED/);
    expect(run.stdout).toMatch(/deaf\s+CANCELING → FAILED/);
    expect(run.stdout).toContain('did not stop within 1000 ms');
    expect(run.stdout).toContain('runtime health: fatal');
    expect(run.stdout).toMatch(/closed after \d+ ms/);
  });
});
