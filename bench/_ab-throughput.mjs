// Temporary A/B: trivial-task throughput of the WorkerExecutor before (baseline build) and after.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerExecutor } from '@taskwarden/executor-local';
import { WorkerExecutor as Baseline } from '@tw-baseline/executor-local';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';
import { alternate } from './lib/stats.js';

const dir = mkdtempSync(join(tmpdir(), 'taskwarden-ab-'));
const module = join(dir, 'trivial.mjs');
writeFileSync(module, 'export default function trivial({ input }) { return input; }\n');
function runner(Executor) {
  const executor = new Executor({ maxThreads: 2, idleTimeoutMs: Number.POSITIVE_INFINITY });
  const runtime = createRuntime({ numberOfSlots: 1, executors: { worker: executor }, fatalErrorHandler: new EmitOnlyFatalErrorHandler(), logger: pino({ level: 'silent' }) });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'b', allocationId: 's' });
  runtime.slotTable.markSlotActive('s');
  const invokable = { module };
  return {
    run: async () => {
      const total = 20_000; let started = 0; let completed = 0; const t0 = performance.now();
      await new Promise((resolve) => { const next = () => { if (started === total) return; started++; runtime.submit({ jobId: 'b', allocationId: 's', invokable, input: started }).done.then(() => { if (++completed === total) resolve(); else next(); }); }; for (let i = 0; i < 64; i++) next(); });
      return total / ((performance.now() - t0) / 1000);
    },
    close: () => runtime.close(),
  };
}
const before = runner(Baseline); const after = runner(WorkerExecutor);
const stats = await alternate({ before: () => before.run(), after: () => after.run() }, { rounds: Number(process.argv[2] ?? 10) });
console.log(JSON.stringify(stats));
console.log('after/before median', (stats.after.median / stats.before.median).toFixed(3));
await Promise.all([before.close(), after.close()]);
rmSync(dir, { recursive: true, force: true });
