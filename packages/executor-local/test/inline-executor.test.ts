import { fileURLToPath } from 'node:url';
import { InlineExecutor } from '@taskwarden/executor-local';
import type { InvocationContext, TaskRuntime } from '@taskwarden/sdk';
import { createRuntime, defineInvokable, EmitOnlyFatalErrorHandler, ErrorCode } from '@taskwarden/sdk';
import { launchDirectly } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

const classFixture = fileURLToPath(new URL('./fixtures/inline-class.mjs', import.meta.url));

let runtime: TaskRuntime | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
});

function setup(executor = new InlineExecutor()) {
  runtime = createRuntime({
    numberOfSlots: 1,
    executors: { inline: executor },
    cancellation: { interruptIntervalMs: 50, gracePeriodMs: 100, timeoutMs: 2_000 },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: pino({ level: 'silent' }),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  const rt = runtime;
  return (invokable: unknown, extra: Record<string, unknown> = {}) =>
    rt.submit({ jobId: 'job', allocationId: 'slot', invokable: invokable as never, ...extra });
}

function abortable<T>(signal: AbortSignal, ms: number, value: T): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms, value);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

describe('InlineExecutor', () => {
  it('declares cooperative-only capabilities', () => {
    expect(new InlineExecutor().capabilities).toEqual({
      hardStop: false,
      diagnostics: false,
      isolation: 'none',
    });
  });

  it('gives the invokable its input, an AbortSignal, a logger bound to the task and task info', async () => {
    const submit = setup();
    let seen: InvocationContext | undefined;
    const task = submit(
      (ctx: InvocationContext) => {
        seen = ctx;
        return 'ok';
      },
      { input: { n: 1 }, name: 'probe', executionId: 'exec-7', attempt: 2 },
    );
    expect(await task.done).toMatchObject({ state: 'FINISHED', result: 'ok' });
    expect(seen?.input).toEqual({ n: 1 });
    expect(seen?.signal).toBeInstanceOf(AbortSignal);
    expect(seen?.task).toEqual({
      executionId: 'exec-7',
      jobId: 'job',
      allocationId: 'slot',
      name: 'probe',
      attempt: 2,
    });
    expect(seen?.logger.bindings()).toMatchObject({ jobId: 'job', executionId: 'exec-7', task: 'probe' });
  });

  it('runs restore then invoke; a cancel during restore means invoke never runs', async () => {
    const submit = setup();
    const calls: string[] = [];
    const task = submit(
      defineInvokable({
        async restore({ signal }) {
          calls.push('restore');
          await abortable(signal, 10_000, undefined).catch(() => calls.push('restore aborted'));
        },
        invoke() {
          calls.push('invoke');
          return 1;
        },
      }),
    );
    while (task.state !== 'INITIALIZING') await new Promise((resolve) => setTimeout(resolve, 1));
    task.cancel();
    expect((await task.done).state).toBe('CANCELED');
    expect(calls).toEqual(['restore', 'restore aborted']);
  });

  it('calls cancel(); a throwing or hanging cancel() hook blocks nothing', async () => {
    const submit = setup();
    let hookCalls = 0;
    const throwing = submit({
      invoke: ({ signal }: InvocationContext) => abortable(signal, 10_000, 0),
      cancel() {
        hookCalls++;
        throw new Error('hook bug');
      },
    });
    const hanging = submit({
      invoke: ({ signal }: InvocationContext) => abortable(signal, 10_000, 0),
      cancel: () => {
        hookCalls++;
        return new Promise(() => undefined);
      },
    });
    while (throwing.state !== 'RUNNING' || hanging.state !== 'RUNNING')
      await new Promise((r) => setTimeout(r, 1));
    throwing.cancel();
    hanging.cancel();
    expect((await throwing.done).state).toBe('CANCELED');
    expect((await hanging.done).state).toBe('CANCELED');
    expect(hookCalls).toBe(2);
  });

  it('accepts module references: class exports get a fresh instance per task', async () => {
    const submit = setup();
    const a = await submit({ module: classFixture, export: 'Counter' }, { input: 5 }).done;
    const b = await submit({ module: classFixture, export: 'Counter' }, { input: 5 }).done;
    expect(a.result).toBe(5);
    expect(b.result).toBe(5);
  });

  it('fails with INVALID_INVOKABLE naming the module or export', async () => {
    const submit = setup();
    const noExport = await submit({ module: classFixture, export: 'missing' }).done;
    expect(noExport.state).toBe('FAILED');
    expect(noExport.error).toMatchObject({ code: ErrorCode.INVALID_INVOKABLE });
    expect(noExport.error?.message).toContain("no export 'missing'");
    const notInvokable = await submit({ module: classFixture, export: 'notInvokable' }).done;
    expect(notInvokable.error).toMatchObject({ code: ErrorCode.INVALID_INVOKABLE });
    const relative = await submit({ module: './relative.js' }).done;
    expect(relative.error?.message).toContain('relative');
    expect((await submit(() => 'still serving').done).result).toBe('still serving');
  });

  it('synchronous work ends inside the launch; async, throwing and rejecting work end as usual', async () => {
    const submit = setup();
    const seen: string[] = [];
    runtime?.events.on('taskStateChanged', ({ to }) => seen.push(to));
    const sync = submit((ctx: InvocationContext<number>) => ctx.input * 2, { input: 21 });
    await Promise.resolve(); // the launch microtask
    expect(sync.state).toBe('FINISHED');
    expect(await sync.done).toMatchObject({ state: 'FINISHED', result: 42 });
    expect(seen).toEqual(['DEPLOYING', 'INITIALIZING', 'RUNNING', 'FINISHED']);

    const boom = new Error('boom');
    const outcomes = await Promise.all([
      submit(async () => 'later').done,
      submit(() => {
        throw boom;
      }).done,
      submit(() => Promise.reject(boom)).done,
      // A thenable that is not a Promise, on purpose.
      // biome-ignore lint/suspicious/noThenProperty: the executor must adopt any thenable
      submit({ invoke: () => ({ then: (resolve: (value: string) => void) => resolve('thenable') }) }).done,
    ]);
    expect(outcomes.map((outcome) => [outcome.state, outcome.result ?? outcome.error])).toEqual([
      ['FINISHED', 'later'],
      ['FAILED', boom],
      ['FAILED', boom],
      ['FINISHED', 'thenable'],
    ]);
  });

  it('a cancel, fail or freed slot while synchronous code runs reaches it (signal, cancel hook)', async () => {
    const submit = setup();
    const rt = runtime as TaskRuntime;
    const hooks: string[] = [];
    const signalAware = (label: string) =>
      defineInvokable({
        invoke: ({ signal }) => {
          if (signal.aborted) throw signal.reason;
          return `${label} ran`;
        },
        cancel: () => {
          hooks.push(label);
        },
      });
    rt.events.on('taskStateChanged', ({ task, to }) => {
      if (to !== 'RUNNING') return;
      if (task.name === 'cancel') task.cancel();
      if (task.name === 'fail') task.fail(new Error('failed from outside'));
    });
    const cancelled = await submit(signalAware('cancel'), { name: 'cancel' }).done;
    expect(cancelled).toMatchObject({ state: 'CANCELED', cancellationRequested: true });
    const failed = await submit(signalAware('fail'), { name: 'fail' }).done;
    expect(failed).toMatchObject({ state: 'FAILED', error: { message: 'failed from outside' } });
    expect(hooks).toEqual(['cancel', 'fail']);

    // The task frees its own slot while it runs: it is failed, and the slot is FREE once it ended.
    const freeing = await submit({
      invoke: ({ signal }: InvocationContext) => {
        expect(rt.slotTable.freeSlot('slot')).toBe(-1);
        return signal.aborted ? 'saw the abort' : 'missed it';
      },
    }).done;
    expect(freeing).toMatchObject({ state: 'FAILED', error: { code: ErrorCode.SLOT_RELEASED } });
    expect(rt.slotTable.getSlotReport()).toEqual([{ index: 0, state: 'FREE' }]);
  });

  it('launched directly, synchronous work runs and reports inside launch(); async work after', async () => {
    const sync = launchDirectly(new InlineExecutor(), { invokable: () => 'value' });
    expect(sync.reports.map((report) => report.kind)).toEqual(['attach', 'running', 'finished']);
    await expect(sync.result).resolves.toBe('value');
    const later = launchDirectly(new InlineExecutor(), { invokable: async () => 'later' });
    expect(later.reports.map((report) => report.kind)).toEqual(['attach', 'running']);
    await expect(later.result).resolves.toBe('later');
    // A module reference is imported first: nothing runs inside launch().
    const cancelled = launchDirectly(new InlineExecutor(), {
      invokable: { module: 'node:os', export: 'cpus' },
    });
    cancelled.execution.cancel(new Error('stop'));
    await expect(cancelled.result).rejects.toThrow('stop');
    expect(cancelled.reports.map((report) => report.kind)).toEqual(['attach', 'failed']);
  });

  it('a closed executor refuses work: the task fails in DEPLOYING with EXECUTOR_CLOSED', async () => {
    const executor = new InlineExecutor();
    const submit = setup(executor);
    await executor.close();
    const outcome = await submit(() => 1).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toMatchObject({ code: ErrorCode.EXECUTOR_CLOSED });
  });
});
