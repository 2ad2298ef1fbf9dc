/**
 * Cold start: a fresh `node` process that imports the SDK, creates a runtime and closes it, against
 * a bare `node` process that loads an empty ES module. Wall time from spawn to exit, measured
 * alternately (the order reverses every round); each measurement is the mean of SPAWNS processes.
 *
 * Two variants: the SDK alone (with an executor object of its own) and the SDK with
 * `@taskwarden/executor-local`'s InlineExecutor (what a user imports first).
 *
 *   npm run build && node bench/cold-start.js
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { alternate, isMain, printResult } from './lib/stats.js';

const SPAWNS = 10;
const script = (name) => fileURLToPath(new URL(`./cold-start/${name}.mjs`, import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));

/** Mean wall time in ms of SPAWNS runs of `node <file>`. */
function spawnMs(file) {
  let total = 0;
  for (let n = 0; n < SPAWNS; n++) {
    const started = performance.now();
    const child = spawnSync(process.execPath, [file], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    total += performance.now() - started;
    if (child.status !== 0) throw new Error(`${file} exited ${child.status}: ${child.stderr}`);
  }
  return total / SPAWNS;
}

export async function run({ rounds = 5 } = {}) {
  const stats = await alternate(
    {
      bare: () => spawnMs(script('bare')),
      sdk: () => spawnMs(script('sdk-only')),
      inline: () => spawnMs(script('sdk-inline')),
    },
    { rounds },
  );
  const peers = { 'bare node': stats.bare };
  const row = (metric, s) => ({
    metric,
    unit: 'ms',
    ours: s,
    peers,
    ratio: s.median / stats.bare.median,
    overheadMs: s.median - stats.bare.median,
  });
  return {
    name: 'cold-start',
    description: `spawn to exit, mean of ${SPAWNS} processes per round`,
    results: [
      row('import @taskwarden/sdk, create a runtime, close it', stats.sdk),
      row('import @taskwarden/sdk + executor-local, runtime with InlineExecutor, close it', stats.inline),
    ],
  };
}

if (isMain(import.meta.url)) printResult(await run());
