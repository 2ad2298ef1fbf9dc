// ctx.reportProgress on the inline executor: task.progress and taskProgress events, synchronously,
// also when task code destructures it; every report arrives before done resolves.
import { InlineExecutor } from '@taskwarden/executor-local';
import type { InvocationContext } from '@taskwarden/sdk';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';
import { describe, expect, it } from 'vitest';

describe('InlineExecutor progress', () => {
  it('reports reach task.progress and taskProgress events in order, before done', async () => {
    const runtime = createRuntime({
      numberOfSlots: 1,
      executors: { inline: new InlineExecutor() },
      fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
      logger: pino({ level: 'silent' }),
    });
    runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
    runtime.slotTable.markSlotActive('slot');
    const seen: unknown[] = [];
    runtime.events.on('taskProgress', ({ progress }) => seen.push(progress));
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'slot',
      invokable: async ({ reportProgress }: InvocationContext) => {
        reportProgress(0.25);
        await new Promise((resolve) => setTimeout(resolve, 5));
        reportProgress({ done: 3, of: 4 });
        reportProgress(1);
        return 'ok';
      },
    });
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'FINISHED', result: 'ok' });
    expect(seen).toEqual([0.25, { done: 3, of: 4 }, 1]);
    expect(task.progress).toBe(1);
    await runtime.close();
  });
});
