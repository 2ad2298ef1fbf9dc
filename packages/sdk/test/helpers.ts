import pino from 'pino';
import type { ExecutionState, RuntimeOptions, TaskRuntime, TaskStateChangedEvent } from '../src/index.js';
import { createRuntime } from '../src/index.js';
import type { CapturedLogLine, ScriptedExecutorOptions } from '../src/testing/index.js';
import {
  captureLogger,
  ManualScheduler,
  RecordingFatalErrorHandler,
  ScriptedExecutor,
} from '../src/testing/index.js';

/** Log lines written by a test runtime, parsed. */
export type LogLine = CapturedLogLine;

export { captureLogger };

export interface TestRuntime {
  runtime: TaskRuntime;
  executor: ScriptedExecutor;
  scheduler: ManualScheduler;
  fatal: RecordingFatalErrorHandler;
  transitions: Array<{ name: string; from: ExecutionState; to: ExecutionState }>;
  submit(extra?: Record<string, unknown>): ReturnType<TaskRuntime['submit']>;
}

export const TIMINGS = { interruptIntervalMs: 1_000, gracePeriodMs: 5_000, timeoutMs: 20_000 };

/** A runtime on fake time with a scripted executor and one ACTIVE slot (`job` / `slot`). */
export function testRuntime(
  executorOptions: ScriptedExecutorOptions = {},
  options: Partial<RuntimeOptions> = {},
): TestRuntime {
  const executor = new ScriptedExecutor(executorOptions);
  const scheduler = new ManualScheduler();
  const fatal = new RecordingFatalErrorHandler();
  const runtime = createRuntime({
    numberOfSlots: 2,
    executors: { scripted: executor },
    cancellation: TIMINGS,
    scheduler,
    fatalErrorHandler: fatal,
    logger: pino({ level: 'silent' }),
    ...options,
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  const transitions: TestRuntime['transitions'] = [];
  runtime.events.on('taskStateChanged', ({ task, from, to }: TaskStateChangedEvent) =>
    transitions.push({ name: task.name, from, to }),
  );
  let count = 0;
  return {
    runtime,
    executor,
    scheduler,
    fatal,
    transitions,
    submit: (extra = {}) =>
      runtime.submit({
        jobId: 'job',
        allocationId: 'slot',
        name: `t${count++}`,
        invokable: () => undefined,
        ...extra,
      }),
  };
}

/** Lets promise callbacks and microtasks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** The states a task went through, in order. */
export function path(transitions: TestRuntime['transitions'], name: string): string[] {
  const steps = transitions.filter((t) => t.name === name);
  return steps.length === 0 ? [] : [steps[0]?.from as string, ...steps.map((t) => t.to)];
}
