import pino from 'pino';
import type { DependencyContainer, InjectionToken } from 'tsyringe';
import { Lifecycle, container as rootContainer } from 'tsyringe';
import { DefaultCancellationStrategy } from '../cancellation/default-cancellation-strategy.js';
import { ExitProcessFatalErrorHandler } from '../fatal/exit-process-fatal-error-handler.js';
import { CancellationStrategyToken } from '../interfaces/cancellation-strategy.js';
import { EventsToken } from '../interfaces/events.js';
import type { Executor } from '../interfaces/executor.js';
import type { FatalErrorHandler } from '../interfaces/fatal-error-handler.js';
import { FatalErrorHandlerToken } from '../interfaces/fatal-error-handler.js';
import type { Logger } from '../interfaces/logger.js';
import { LoggerToken } from '../interfaces/logger.js';
import type { RuntimeOptions, TaskRuntime } from '../interfaces/runtime.js';
import { ExecutorsToken, RuntimeOptionsToken } from '../interfaces/runtime.js';
import type { Scheduler } from '../interfaces/scheduler.js';
import { SchedulerToken } from '../interfaces/scheduler.js';
import { TaskSlotTableToken } from '../interfaces/task-slot-table.js';
import { SystemScheduler } from '../scheduler/system-scheduler.js';
import { DefaultTaskSlotTable } from '../slots/default-task-slot-table.js';
import { checkTimingsCoverHardStop, validateExecutors, validateRuntimeOptions } from './options.js';
import { RuntimeEventEmitterImpl } from './runtime-event-emitter.js';
import { TaskRuntimeImpl } from './task-runtime-impl.js';

/**
 * The logger used when none is given: pino at level `warn` on stderr, so an embedding service sees
 * stuck-task warnings and fatal errors but not every transition.
 */
export function createDefaultLogger(): Logger {
  return pino({ name: 'taskwarden', level: 'warn' }, pino.destination({ dest: 2, sync: true }));
}

/**
 * Creates a runtime: slot table, cancellation ladder, executors, events and logging, wired in one
 * tsyringe child container of its own.
 *
 * Precedence for every overridable part: the option, then a registration in `options.container`,
 * then the default.
 *
 * @example
 * ```js
 * import { createRuntime } from '@taskwarden/sdk';
 * import { InlineExecutor } from '@taskwarden/executor-local';
 *
 * const runtime = createRuntime({ numberOfSlots: 1, executors: { inline: new InlineExecutor() } });
 * runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'a' });
 * runtime.slotTable.markSlotActive('a');
 * const task = runtime.submit({ jobId: 'job', allocationId: 'a', invokable: ({ input }) => input * 2, input: 21 });
 * console.log(await task.done); // { state: 'FINISHED', result: 42, cancellationRequested: false, abandoned: false }
 * await runtime.close();
 * ```
 * @throws TypeError or RangeError naming the option at fault.
 */
export function createRuntime(options: RuntimeOptions): TaskRuntime {
  const resolved = validateRuntimeOptions(options);
  const parent = options.container ?? rootContainer;
  const fromParent = <T>(token: InjectionToken<T>): T | undefined =>
    parent.isRegistered(token, true) ? parent.resolve(token) : undefined;

  const executors = options.executors ?? fromParent<Record<string, Executor>>(ExecutorsToken);
  if (executors === undefined) {
    throw new TypeError('options.executors is required (or register Tokens.Executors in options.container)');
  }
  if (!options.executors) validateExecutors(executors);
  let defaultExecutor = resolved.defaultExecutor;
  const keys = Object.keys(executors);
  if (defaultExecutor === undefined && keys.length === 1) defaultExecutor = keys[0];
  if (defaultExecutor !== undefined && !Object.hasOwn(executors, defaultExecutor)) {
    throw new RangeError(`options.defaultExecutor '${defaultExecutor}' is not one of the executors`);
  }

  for (const [key, executor] of Object.entries(executors)) {
    checkTimingsCoverHardStop(resolved.cancellation, executor, key, 'options.cancellation');
  }

  const child: DependencyContainer = parent.createChildContainer();
  const logger = options.logger ?? fromParent<Logger>(LoggerToken) ?? createDefaultLogger();
  const scheduler = options.scheduler ?? fromParent<Scheduler>(SchedulerToken) ?? new SystemScheduler();
  const fatalErrorHandler =
    options.fatalErrorHandler ??
    fromParent<FatalErrorHandler>(FatalErrorHandlerToken) ??
    new ExitProcessFatalErrorHandler({ logger });

  child.registerInstance(LoggerToken, logger);
  child.registerInstance(SchedulerToken, scheduler);
  child.registerInstance(FatalErrorHandlerToken, fatalErrorHandler);
  child.registerInstance(ExecutorsToken, executors);
  child.registerInstance(RuntimeOptionsToken, { ...resolved, defaultExecutor });
  child.registerInstance(EventsToken, new RuntimeEventEmitterImpl());
  const ownsSlotTable = !parent.isRegistered(TaskSlotTableToken, true);
  if (ownsSlotTable) {
    child.register(
      TaskSlotTableToken,
      { useClass: DefaultTaskSlotTable },
      { lifecycle: Lifecycle.ContainerScoped },
    );
  }
  if (!parent.isRegistered(CancellationStrategyToken, true)) {
    child.register(
      CancellationStrategyToken,
      { useClass: DefaultCancellationStrategy },
      { lifecycle: Lifecycle.ContainerScoped },
    );
  }
  const runtime = child.resolve(TaskRuntimeImpl);
  runtime.attachContainer(child, ownsSlotTable);
  return runtime;
}
