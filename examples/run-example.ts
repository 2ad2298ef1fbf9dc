// Shared by the examples' tests: run a script the way a reader would, and insist it exits 0.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** Runs `script` (a URL, e.g. `new URL('../src/main.js', import.meta.url)`) with node; returns its stdout. */
export function runExample(script: URL | string, timeoutMs = 30_000): string {
  const path = typeof script === 'string' ? script : fileURLToPath(script);
  const run = spawnSync(process.execPath, [path], { encoding: 'utf8', timeout: timeoutMs });
  expect(run.status, run.stderr).toBe(0);
  return run.stdout;
}
