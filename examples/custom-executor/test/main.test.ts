import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { survivors } from './processes.js';

it('runs a script to a result, cancels one gracefully and hard-stops one that ignores SIGTERM', async () => {
  // The demo's scripts (and their sleeps) inherit this variable, so we can check none outlived it.
  const id = randomUUID();
  const run = spawnSync(process.execPath, [fileURLToPath(new URL('../src/main.js', import.meta.url))], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, TW_DEMO_RUN: id },
  });
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/greet +FINISHED +\{"greeting":"hello, world","task":"greet"\}/);
  expect(run.stdout).toMatch(
    /graceful +CANCELED +AbortError: stopped on SIGTERM; partial output removed \(partial output left behind: false\)/,
  );
  expect(run.stdout).toMatch(/stubborn +still running \d+ ms after the cancel request/);
  const hardStop =
    /stubborn +CANCELED +TaskCancelledError: .* \(hard-stopped (\d+) ms after the cancel request\)/.exec(
      run.stdout,
    );
  expect(hardStop, run.stdout).not.toBeNull();
  expect(Number(hardStop?.[1])).toBeGreaterThanOrEqual(1_000); // not before gracePeriodMs
  expect(run.stdout).toContain('closed; script processes left: 0');
  expect(await survivors(`TW_DEMO_RUN=${id}`)).toEqual([]);
});
