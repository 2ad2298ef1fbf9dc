// The inline executor makes a task's AbortSignal only when the task reads ctx.signal; a signal first
// read after the cancel must already be aborted, with the cancel's reason, and one read before must
// fire its abort event.
import { InlineExecutor } from '@taskwarden/executor-local';
import type { InvocationContext, TaskRuntime } from '@taskwarden/sdk';
import { createRuntime, EmitOnlyFatalErrorHandler, TaskCancelledError } from '@taskwarden/sdk';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

let runtime: TaskRuntime | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
});

function setup() {
  runtime = createRuntime({
    numberOfSlots: 1,
    executors: { inline: new InlineExecutor() },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: pino({ level: 'silent' }),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  return runtime;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('the inline lazy AbortSignal', () => {
  it('is already aborted, with the cancel reason, when first read after the cancel', async () => {
    const rt = setup();
    let seen: { aborted: boolean; reason: unknown } | undefined;
    const task = rt.submit({
      jobId: 'job',
      allocationId: 'slot',
      invokable: async (ctx: InvocationContext) => {
        await tick();
        await tick();
        seen = { aborted: ctx.signal.aborted, reason: ctx.signal.reason };
        return 'done anyway';
      },
    });
    await tick();
    task.cancel();
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'FINISHED', cancellationRequested: true });
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(TaskCancelledError);
  });

  it('fires its abort event when read before the cancel', async () => {
    const rt = setup();
    const task = rt.submit({
      jobId: 'job',
      allocationId: 'slot',
      invokable: (ctx: InvocationContext) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
        }),
    });
    await tick();
    task.cancel();
    const outcome = await task.done;
    expect(outcome.state).toBe('CANCELED');
    expect(outcome.error).toBeInstanceOf(TaskCancelledError);
  });
});
