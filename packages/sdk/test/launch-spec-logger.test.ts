// The launch spec's logger is an own data property that stands for the task's pino child and makes
// it only when first used (lazy-logger.ts): it must behave as that child, survive `{ ...spec }`, and
// cost nothing for work that never logs.
import 'reflect-metadata';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Execution, Executor, LaunchSpec, Logger, TaskRuntime } from '../src/index.js';
import { createRuntime, EmitOnlyFatalErrorHandler } from '../src/index.js';
import type { CapturedLogLine } from '../src/testing/index.js';

/** Keeps every spec it is given; its work ends at once with `spec.input`. */
class SpecKeepingExecutor implements Executor {
  readonly name = 'keeping';
  readonly capabilities = { hardStop: false, diagnostics: false, isolation: 'none' } as const;
  readonly specs: LaunchSpec[] = [];

  launch(spec: LaunchSpec): Execution {
    this.specs.push(spec);
    spec.report.running();
    spec.report.finished(spec.input);
    return { cancel: () => undefined };
  }

  async close(): Promise<void> {}
}

let runtime: TaskRuntime | undefined;
afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
});

/** A runtime over a spec-keeping executor whose logger counts the children pino makes. */
function setup(level = 'info') {
  const lines: CapturedLogLine[] = [];
  let children = 0;
  const logger = pino(
    {
      level,
      onChild: () => {
        children++;
      },
    },
    { write: (line: string) => lines.push(JSON.parse(line) as CapturedLogLine) },
  );
  const executor = new SpecKeepingExecutor();
  runtime = createRuntime({
    numberOfSlots: 1,
    executors: { keeping: executor },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger,
    transitionLogLevel: 'debug',
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  const rt = runtime;
  const submit = (executionId: string) =>
    rt.submit({
      jobId: 'job',
      allocationId: 'slot',
      executionId,
      name: 'probe',
      invokable: () => 0,
      input: 1,
    });
  return { logger, lines, executor, submit, children: () => children };
}

describe("the launch spec's logger", () => {
  it('is an own data property: no pino child is made for work that never logs', async () => {
    const { executor, submit, children } = setup();
    for (let n = 0; n < 5; n++) await submit(`quiet-${n}`).done;
    expect(executor.specs).toHaveLength(5);
    for (const spec of executor.specs) {
      const descriptor = Object.getOwnPropertyDescriptor(spec, 'logger');
      expect(descriptor?.enumerable).toBe(true);
      expect(descriptor?.get).toBeUndefined();
    }
    expect(children()).toBe(0);
  });

  it('logs through the task child, bound to job, execution id and name, also from a spread copy', async () => {
    const { executor, submit, lines, children } = setup();
    await submit('talker').done;
    const spec = executor.specs[0] as LaunchSpec;
    const copy = { ...spec, input: 2 };
    copy.logger.info({ extra: 1 }, 'from the copy');
    spec.logger.warn('from the spec');
    expect(children()).toBe(1);
    expect(lines).toEqual([
      expect.objectContaining({
        jobId: 'job',
        executionId: 'talker',
        task: 'probe',
        extra: 1,
        msg: 'from the copy',
      }),
      expect.objectContaining({ jobId: 'job', executionId: 'talker', task: 'probe', msg: 'from the spec' }),
    ]);
    expect(spec.logger.bindings()).toEqual({ jobId: 'job', executionId: 'talker', task: 'probe' });
  });

  it('behaves as the child: level, isLevelEnabled, child(), flush, events', async () => {
    const { executor, submit, lines } = setup('info');
    await submit('levels').done;
    const logger: Logger = (executor.specs[0] as LaunchSpec).logger;
    expect(logger.level).toBe('info');
    expect(logger.isLevelEnabled('debug')).toBe(false);
    const changes: string[] = [];
    logger.on('level-change', (level: string) => changes.push(level));
    logger.level = 'debug';
    expect(logger.isLevelEnabled('debug')).toBe(true);
    expect(changes).toEqual(['debug']);
    logger.child({ step: 'inner' }).debug('deeper');
    expect(lines.at(-1)).toMatchObject({ executionId: 'levels', step: 'inner', msg: 'deeper' });
    expect(typeof logger.info).toBe('function');
    expect('info' in logger).toBe(true);
    expect(() => logger.flush()).not.toThrow();
  });

  it('cannot be frozen (it is shared with the runtime) and keeps working', async () => {
    const { executor, submit, lines } = setup();
    await submit('frozen').done;
    const logger = (executor.specs[0] as LaunchSpec).logger;
    expect(() => Object.freeze(logger)).toThrow(TypeError);
    logger.info('still logging');
    expect(lines.at(-1)).toMatchObject({ executionId: 'frozen', msg: 'still logging' });
  });
});
