// The runtime launches submitted tasks one microtask after submit, all those of one turn together;
// tasks submitted while others launch (from synchronous task code) go to the next launch. The
// runtime's cached transition-log level follows the logger and lets go of it on close.
import 'reflect-metadata';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Execution, Executor, LaunchSpec, TaskRuntime } from '../src/index.js';
import { createRuntime, EmitOnlyFatalErrorHandler } from '../src/index.js';
import { captureLogger } from '../src/testing/index.js';

/** Runs the invokable (a function of the spec) inside launch() and reports its outcome there. */
class SyncExecutor implements Executor {
  readonly name = 'sync';
  readonly capabilities = { hardStop: false, diagnostics: false, isolation: 'none' } as const;
  readonly launched: string[] = [];

  launch(spec: LaunchSpec): Execution {
    this.launched.push(spec.task.executionId);
    const execution: Execution = { cancel: () => undefined };
    spec.report.attach(execution);
    spec.report.running();
    spec.report.finished((spec.invokable as unknown as (spec: LaunchSpec) => unknown)(spec));
    return execution;
  }

  async close(): Promise<void> {}
}

let runtime: TaskRuntime | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
});

function setup(logger = pino({ level: 'silent' })) {
  const executor = new SyncExecutor();
  runtime = createRuntime({
    numberOfSlots: 1,
    executors: { sync: executor },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger,
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  return { runtime, executor };
}

describe('launch scheduling', () => {
  it('launches every task of a turn one microtask later, none during submit', async () => {
    const { runtime: rt, executor } = setup();
    const tasks = Array.from({ length: 100 }, (_, n) =>
      rt.submit({ jobId: 'job', allocationId: 'slot', executionId: `t${n}`, invokable: () => n }),
    );
    expect(executor.launched).toEqual([]);
    tasks[7]?.cancel();
    await Promise.resolve();
    expect(executor.launched).toHaveLength(99);
    expect(executor.launched).not.toContain('t7');
    const outcomes = await Promise.all(tasks.map((task) => task.done));
    expect(outcomes.filter((outcome) => outcome.state === 'FINISHED')).toHaveLength(99);
  });

  it('launches tasks that running task code submits, in later launches, turn after turn', async () => {
    const { runtime: rt, executor } = setup();
    const chained: Promise<unknown>[] = [];
    const submit = (depth: number, branch: string): void => {
      const task = rt.submit({
        jobId: 'job',
        allocationId: 'slot',
        executionId: `${branch}${depth}`,
        invokable: () => {
          if (depth < 5) submit(depth + 1, branch);
          return depth;
        },
      });
      chained.push(task.done);
    };
    submit(0, 'a');
    submit(0, 'b');
    while (chained.length < 12) await Promise.resolve();
    await Promise.all(chained);
    expect(executor.launched).toEqual([
      'a0',
      'b0',
      'a1',
      'b1',
      'a2',
      'b2',
      'a3',
      'b3',
      'a4',
      'b4',
      'a5',
      'b5',
    ]);
  });
});

describe('a task submitted while others launch', () => {
  it('waits for a microtask of its own: work queued before its submit runs before it launches', async () => {
    const { runtime: rt, executor } = setup();
    let seenBeforeChild: string[] | undefined;
    let child: Promise<unknown> | undefined;
    const parent = rt.submit({
      jobId: 'job',
      allocationId: 'slot',
      executionId: 'parent',
      invokable: () => {
        Promise.resolve().then(() => {
          seenBeforeChild = [...executor.launched];
        });
        child = rt.submit({
          jobId: 'job',
          allocationId: 'slot',
          executionId: 'child',
          invokable: () => 2,
        }).done;
        return 1;
      },
    });
    await parent.done;
    await child;
    expect(seenBeforeChild).toEqual(['parent']);
    expect(executor.launched).toEqual(['parent', 'child']);
  });
});

describe("the runtime's transition log level", () => {
  it('follows the logger level, and the runtime lets go of the logger on close', async () => {
    const { logger, lines } = captureLogger('warn');
    const before = logger.listenerCount('level-change');
    const { runtime: rt } = setup(logger);
    const transitions = () => lines.filter((line) => line.msg === 'task state changed').length;
    await rt.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 }).done;
    expect(transitions()).toBe(0);
    logger.level = 'info';
    await rt.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 1 }).done;
    expect(transitions()).toBe(4);
    await rt.close();
    runtime = undefined;
    // Neither the runtime nor its own slot table listens any more.
    expect(logger.listenerCount('level-change')).toBe(before);
  });
});
