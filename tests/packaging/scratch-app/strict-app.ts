// Strict TypeScript against the installed tarballs' declarations: `moduleResolution: nodenext`,
// `exactOptionalPropertyTypes`, no decorator flags, `skipLibCheck: false` (see tsconfig.json). Only
// type-checked: the JavaScript programs beside it run the same API.

import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import type {
  Executor,
  ExecutorCapabilities,
  LaunchSpec,
  Task,
  TaskDescriptor,
  TaskOutcome,
  TaskRuntime,
} from '@taskwarden/sdk';
import {
  BaseExecution,
  createRuntime,
  EmitOnlyFatalErrorHandler,
  ErrorCode,
  TaskwardenError,
} from '@taskwarden/sdk';
import { captureLogger, launchDirectly, ManualScheduler } from '@taskwarden/sdk/testing';
import pino from 'pino';

/** An executor written against the public SPI only, as a third party would. */
class TimerExecution extends BaseExecution {
  readonly #timer: NodeJS.Timeout;
  constructor(spec: LaunchSpec) {
    super(spec);
    this.markRunning();
    this.#timer = setTimeout(() => this.resolve(spec.input), 10);
  }
  protected override onCancel(reason: Error): void {
    clearTimeout(this.#timer);
    this.reject(reason);
  }
}

class TimerExecutor implements Executor {
  readonly name = 'timer';
  readonly capabilities: ExecutorCapabilities = { hardStop: false, diagnostics: false, isolation: 'none' };
  launch(spec: LaunchSpec): TimerExecution {
    return new TimerExecution(spec);
  }
  async close(): Promise<void> {}
}

export async function run(): Promise<string> {
  const { logger } = captureLogger('warn');
  const runtime: TaskRuntime = createRuntime({
    numberOfSlots: 2,
    executors: {
      inline: new InlineExecutor(),
      worker: new WorkerExecutor({ maxThreads: 1 }),
      process: new ProcessExecutor({ maxProcesses: 1, killGraceMs: 500 }),
      timer: new TimerExecutor(),
    },
    cancellation: { interruptIntervalMs: 1_000, gracePeriodMs: 2_000, timeoutMs: 5_000 },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    scheduler: new ManualScheduler(),
    logger,
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');

  const descriptor: TaskDescriptor<{ n: number }, number> = {
    jobId: 'job',
    allocationId: 'slot',
    name: 'double',
    input: { n: 21 },
    invokable: ({ input }) => input.n * 2,
  };
  const task: Task<number> = runtime.submit(descriptor);
  const outcome: TaskOutcome<number> = await task.done;
  let text: string;
  switch (outcome.state) {
    case 'FINISHED': {
      const doubled: number = outcome.result; // narrowed: no undefined
      text = String(doubled);
      break;
    }
    case 'FAILED':
      text = outcome.error.message; // always present on FAILED
      break;
    case 'CANCELED':
      text = outcome.error?.message ?? 'cancelled';
      break;
  }
  try {
    runtime.submit({ jobId: 'job', allocationId: 'no-such-slot', invokable: () => 0 });
  } catch (error) {
    if (error instanceof TaskwardenError && error.code === ErrorCode.NO_ACTIVE_SLOT) text += ' (refused)';
  }
  const direct = launchDirectly(new TimerExecutor(), { invokable: () => undefined, input: 1 });
  await direct.outcome;
  await runtime.close();
  return text;
}

// The application's own pino (9 here) is accepted as the SDK's logger.
export const appLogger: Parameters<typeof createRuntime>[0]['logger'] = pino({ level: 'info' });
