// createRuntime: option validation, DI overrides, submission rules, close.
// Integrators who use tsyringe themselves load the polyfill before it, as tsyringe requires.
import 'reflect-metadata';
import pino from 'pino';
import { container as rootContainer } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import type { CancellationStrategy, FatalErrorHandler, TaskSlotTable } from '../src/index.js';
import {
  createRuntime,
  DefaultCancellationStrategy,
  EmitOnlyFatalErrorHandler,
  ErrorCode,
  ExecutionState,
  isTerminal,
  RuntimeFatalError,
  TaskSubmissionError,
  Tokens,
} from '../src/index.js';
import { ManualScheduler, ScriptedExecutor } from '../src/testing/index.js';
import { settle, testRuntime } from './helpers.js';

const silent = pino({ level: 'silent' });
const executors = () => ({ scripted: new ScriptedExecutor() });

describe('public contract names', () => {
  it('ExecutionState has the eight states with values equal to names; isTerminal', () => {
    expect(Object.entries(ExecutionState)).toEqual(
      ['CREATED', 'DEPLOYING', 'INITIALIZING', 'RUNNING', 'FINISHED', 'CANCELING', 'CANCELED', 'FAILED'].map(
        (s) => [s, s],
      ),
    );
    expect(Object.values(ExecutionState).filter(isTerminal)).toEqual(['FINISHED', 'CANCELED', 'FAILED']);
  });

  it('Tokens are Symbol.for keys under the @taskwarden/sdk namespace', () => {
    expect(Tokens.TaskSlotTable).toBe(Symbol.for('@taskwarden/sdk:TaskSlotTable'));
    expect(Tokens.CancellationStrategy).toBe(Symbol.for('@taskwarden/sdk:CancellationStrategy'));
    expect(Tokens.FatalErrorHandler).toBe(Symbol.for('@taskwarden/sdk:FatalErrorHandler'));
    expect(Tokens.Scheduler).toBe(Symbol.for('@taskwarden/sdk:Scheduler'));
    expect(Tokens.Logger).toBe(Symbol.for('@taskwarden/sdk:Logger'));
  });
});

describe('createRuntime option validation', () => {
  it.each([
    [undefined, TypeError, 'options'],
    [{}, TypeError, 'options.numberOfSlots'],
    [{ numberOfSlots: -1, executors: executors() }, RangeError, 'options.numberOfSlots'],
    [{ numberOfSlots: 1.5, executors: executors() }, RangeError, 'options.numberOfSlots'],
    [{ numberOfSlots: 1 }, TypeError, 'options.executors'],
    [{ numberOfSlots: 1, executors: {} }, RangeError, 'options.executors'],
    [{ numberOfSlots: 1, executors: { bad: {} } }, TypeError, 'options.executors.bad'],
    [
      { numberOfSlots: 1, executors: executors(), defaultExecutor: 'nope' },
      RangeError,
      'options.defaultExecutor',
    ],
    [
      { numberOfSlots: 1, executors: executors(), cancellation: { timeoutMs: -5 } },
      RangeError,
      'options.cancellation.timeoutMs',
    ],
    [
      { numberOfSlots: 1, executors: executors(), cancellation: { gracePeriodMs: 'x' } },
      TypeError,
      'options.cancellation.gracePeriodMs',
    ],
    [
      { numberOfSlots: 1, executors: executors(), cancellation: { gracePeriodMs: 10, timeoutMs: 10 } },
      RangeError,
      'must exceed options.cancellation.gracePeriodMs',
    ],
    [
      { numberOfSlots: 1, executors: executors(), fatalErrorHandler: {} },
      TypeError,
      'options.fatalErrorHandler',
    ],
    [
      { numberOfSlots: 1, executors: executors(), scheduler: { now: () => 0 } },
      TypeError,
      'options.scheduler',
    ],
    [{ numberOfSlots: 1, executors: executors(), logger: 'loud' }, TypeError, 'options.logger'],
    [{ numberOfSlots: 1, executors: executors(), container: {} }, TypeError, 'options.container'],
    [
      { numberOfSlots: 1, executors: executors(), transitionLogLevel: 'trace' },
      RangeError,
      'options.transitionLogLevel',
    ],
  ])('rejects %j with a %s naming the option', (options, errorClass, text) => {
    expect(() => createRuntime(options as never)).toThrow(errorClass);
    expect(() => createRuntime(options as never)).toThrow(text);
  });
});

describe('dependency injection', () => {
  it('uses a child container per runtime and never registers into the global container', async () => {
    const before = rootContainer.isRegistered(Tokens.TaskSlotTable, true);
    const a = createRuntime({ numberOfSlots: 1, executors: executors(), logger: silent });
    const b = createRuntime({ numberOfSlots: 1, executors: executors(), logger: silent });
    expect(a.slotTable).not.toBe(b.slotTable);
    expect(rootContainer.isRegistered(Tokens.TaskSlotTable, true)).toBe(before);
    await Promise.all([a.close(), b.close()]);
  });

  it('takes overrides from a parent container: fatal handler, scheduler, logger, strategy, slot table', async () => {
    const parent = rootContainer.createChildContainer();
    const fatal = new EmitOnlyFatalErrorHandler();
    const scheduler = new ManualScheduler();
    const armed: string[] = [];
    const strategy: CancellationStrategy = {
      arm(target) {
        armed.push(target.task.executionId);
        return new DefaultCancellationStrategy(scheduler).arm(target);
      },
    };
    parent.registerInstance<FatalErrorHandler>(Tokens.FatalErrorHandler, fatal);
    parent.registerInstance(Tokens.Scheduler, scheduler);
    parent.registerInstance(Tokens.Logger, silent);
    parent.registerInstance<CancellationStrategy>(Tokens.CancellationStrategy, strategy);
    const executor = new ScriptedExecutor();
    const runtime = createRuntime({
      numberOfSlots: 1,
      executors: { scripted: executor },
      cancellation: { interruptIntervalMs: 10, gracePeriodMs: 20, timeoutMs: 30 },
      container: parent,
    });
    runtime.slotTable.allocateSlot({ index: 0, jobId: 'j', allocationId: 'a' });
    runtime.slotTable.markSlotActive('a');
    const task = runtime.submit({ jobId: 'j', allocationId: 'a', executionId: 'e1', invokable: () => 0 });
    (await executor.nextLaunch()).run();
    task.cancel();
    expect(armed).toEqual(['e1']);
    await scheduler.advanceAsync(30);
    expect(fatal.errors).toHaveLength(1); // the overridden handler and scheduler were used
    await task.done;
    await runtime.close();
  });

  it('a slot table registered in the parent replaces the default', async () => {
    const parent = rootContainer.createChildContainer();
    const custom = {
      numberOfSlots: 0,
      isActive: () => false,
      close: async () => undefined,
    } as unknown as TaskSlotTable;
    parent.registerInstance<TaskSlotTable>(Tokens.TaskSlotTable, custom);
    const runtime = createRuntime({
      numberOfSlots: 1,
      executors: executors(),
      logger: silent,
      container: parent,
    });
    expect(runtime.slotTable).toBe(custom);
    await runtime.close();
  });
});

describe('submit', () => {
  it('requires an ACTIVE slot of that allocation id and job', () => {
    const t = testRuntime();
    t.runtime.slotTable.allocateSlot({ index: 1, jobId: 'job', allocationId: 'allocated-only' });
    const attempts = [
      { allocationId: 'unknown' },
      { allocationId: 'allocated-only' },
      { allocationId: 'slot', jobId: 'other-job' },
    ];
    for (const attempt of attempts) {
      let error: unknown;
      try {
        t.submit(attempt);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(TaskSubmissionError);
      expect((error as TaskSubmissionError).code).toBe(ErrorCode.NO_ACTIVE_SLOT);
    }
  });

  it.each([
    [{ jobId: '' }, ErrorCode.INVALID_DESCRIPTOR, 'jobId'],
    [{ allocationId: 7 }, ErrorCode.INVALID_DESCRIPTOR, 'allocationId'],
    [{ executionId: '' }, ErrorCode.INVALID_DESCRIPTOR, 'executionId'],
    [{ invokable: 42 }, ErrorCode.INVALID_DESCRIPTOR, 'invokable'],
    [{ invokable: { module: '' } }, ErrorCode.INVALID_DESCRIPTOR, 'invokable.module'],
    [{ invokable: { module: '/x.js', export: 3 } }, ErrorCode.INVALID_DESCRIPTOR, 'invokable.export'],
    [{ invokable: { module: 42 } }, ErrorCode.INVALID_DESCRIPTOR, 'or a URL object, got number'],
    [{ invokable: { module: null } }, ErrorCode.INVALID_DESCRIPTOR, 'or a URL object, got null'],
    [{ executor: 'nope' }, ErrorCode.UNKNOWN_EXECUTOR, "unknown executor 'nope'"],
    [{ cancellation: { timeoutMs: 0 } }, ErrorCode.INVALID_DESCRIPTOR, 'cancellation.timeoutMs'],
    [{ signal: {} }, ErrorCode.INVALID_DESCRIPTOR, 'signal'],
    [{ attempt: 0 }, ErrorCode.INVALID_DESCRIPTOR, 'attempt'],
    [{ name: 5 }, ErrorCode.INVALID_DESCRIPTOR, 'name'],
  ])('refuses %j with code %s', (extra, code, text) => {
    const t = testRuntime();
    let error: unknown;
    try {
      t.submit(extra);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TaskSubmissionError);
    expect((error as TaskSubmissionError).code).toBe(code);
    expect((error as Error).message).toContain(text);
    // Nothing was left behind and the runtime keeps serving.
    expect(t.runtime.slotTable.getTasks('slot')).toHaveLength(0);
    expect(t.submit().state).toBe('CREATED');
  });

  it('refuses a non-object descriptor', () => {
    const t = testRuntime();
    expect(() => t.runtime.submit(null as never)).toThrow(TaskSubmissionError);
  });

  it('refuses a duplicate live execution id; the id is free again once the task is done', async () => {
    const t = testRuntime();
    const first = t.submit({ executionId: 'same' });
    expect(() => t.submit({ executionId: 'same' })).toThrow(
      expect.objectContaining({ code: ErrorCode.DUPLICATE_EXECUTION_ID }),
    );
    expect(t.runtime.getTask('same')).toBe(first);
    (await t.executor.nextLaunch()).finish();
    await first.done;
    await settle();
    expect(t.runtime.getTask('same')).toBeUndefined();
    expect(t.submit({ executionId: 'same' }).executionId).toBe('same');
  });

  it('several tasks share a slot; getTasks lists them until done', async () => {
    const t = testRuntime();
    const tasks = [t.submit(), t.submit(), t.submit()];
    expect(t.runtime.slotTable.getTasks('slot')).toEqual(tasks);
    for (let i = 0; i < 3; i++) (await t.executor.nextLaunch(i)).finish(i);
    await Promise.all(tasks.map((task) => task.done));
    await settle();
    expect(t.runtime.slotTable.getTasks('slot')).toHaveLength(0);
  });

  it('uses the only executor by default and names tasks after their function', async () => {
    const t = testRuntime();
    function resizeImage() {
      return 1;
    }
    const task = t.runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: resizeImage });
    expect(task.executor).toBe('scripted');
    expect(task.name).toBe('resizeImage');
    expect(
      t.runtime.submit({
        jobId: 'job',
        allocationId: 'slot',
        invokable: { module: '/a/b/thumb.js', export: 'small' },
      }).name,
    ).toBe('thumb.js#small');
  });

  it('accepts { module: URL } and hands the executor its href (a URL cannot cross to a thread)', async () => {
    const t = testRuntime();
    const url = new URL('./tasks/thumb.js', 'file:///srv/app/');
    const task = t.runtime.submit({
      jobId: 'job',
      allocationId: 'slot',
      invokable: { module: url, export: 'small' },
    });
    expect(task.name).toBe('thumb.js#small');
    const execution = await t.executor.nextLaunch();
    expect(execution.spec.invokable).toEqual({ module: 'file:///srv/app/tasks/thumb.js', export: 'small' });
    expect(structuredClone(execution.spec.invokable)).toEqual(execution.spec.invokable);
  });

  it('needs an executor name when there are several and no default', () => {
    const runtime = createRuntime({
      numberOfSlots: 1,
      executors: { a: new ScriptedExecutor(), b: new ScriptedExecutor() },
      logger: silent,
    });
    runtime.slotTable.allocateSlot({ index: 0, jobId: 'j', allocationId: 's' });
    runtime.slotTable.markSlotActive('s');
    expect(() => runtime.submit({ jobId: 'j', allocationId: 's', invokable: () => 0 })).toThrow(
      expect.objectContaining({ code: ErrorCode.UNKNOWN_EXECUTOR }),
    );
  });
});

describe('close', () => {
  it('stops intake, cancels everything, waits for done, frees slots, closes executors', async () => {
    const t = testRuntime({ hardStop: true });
    const running = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    const closing = t.runtime.close({ graceMs: 100 });
    expect(() => t.submit()).toThrow(expect.objectContaining({ code: ErrorCode.RUNTIME_CLOSED }));
    expect(running.state).toBe('CANCELING');
    expect(t.runtime.close()).toBe(closing); // idempotent
    await t.scheduler.advanceAsync(100);
    await closing;
    expect((await running.done).state).toBe('CANCELED');
    expect(execution.killCalls).toBe(1); // graceMs hard-stopped it before the ladder's grace period
    expect(t.executor.closed).toBe(true);
    expect(t.runtime.health).toBe('closed');
    expect(t.runtime.slotTable.getSlotReport().every((slot) => slot.state === 'FREE')).toBe(true);
  });

  it('rejects bad close options', async () => {
    const t = testRuntime();
    await expect(t.runtime.close({ graceMs: -1 })).rejects.toThrow(RangeError);
    await t.runtime.close();
  });

  it('works in fatal health and keeps answering queries', async () => {
    const t = testRuntime();
    const task = t.submit();
    (await t.executor.nextLaunch()).run();
    task.cancel();
    await t.scheduler.advanceAsync(20_000);
    expect(t.runtime.health).toBe('fatal');
    expect(() => t.submit()).toThrow(RuntimeFatalError);
    expect(t.runtime.slotTable.getSlotReport()).toHaveLength(2);
    await t.runtime.close();
    expect(t.runtime.health).toBe('closed');
  });
});
