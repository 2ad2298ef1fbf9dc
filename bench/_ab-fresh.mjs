// Temporary A/B: a fresh thread's first trivial task (new executor, launch, result, close).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerExecutor } from '@taskwarden/executor-local';
import { WorkerExecutor as Baseline } from '@tw-baseline/executor-local';
import { launchDirectly } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { alternate } from './lib/stats.js';
const dir = mkdtempSync(join(tmpdir(), 'taskwarden-ab-'));
const module = join(dir, 'trivial.mjs');
writeFileSync(module, 'export default function trivial({ input }) { return input; }\n');
const quiet = pino({ level: 'silent' });
async function fresh(Executor, options) {
  let total = 0;
  for (let i = 0; i < 20; i++) {
    const executor = new Executor({ maxThreads: 1, ...options });
    const t = performance.now();
    await launchDirectly(executor, { invokable: { module }, input: 1 }).result;
    total += performance.now() - t;
    await executor.close();
  }
  return total / 20;
}
const stats = await alternate({ before: () => fresh(Baseline, {}), after: () => fresh(WorkerExecutor, { logger: quiet }) }, { rounds: Number(process.argv[2] ?? 10) });
console.log(JSON.stringify(stats));
await new Promise((r) => setTimeout(r, 10));
rmSync(dir, { recursive: true, force: true });
// also: the cost of constructing an executor (mode detection)
const t = performance.now(); for (let i = 0; i < 50; i++) new WorkerExecutor({ logger: quiet }); console.log('new WorkerExecutor (with detection) ms', ((performance.now() - t) / 50).toFixed(3));
const t2 = performance.now(); for (let i = 0; i < 50; i++) new Baseline(); console.log('new baseline WorkerExecutor ms', ((performance.now() - t2) / 50).toFixed(3));
