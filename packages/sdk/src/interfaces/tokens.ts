import { CancellationStrategyToken } from './cancellation-strategy.js';
import { EventsToken } from './events.js';
import { FatalErrorHandlerToken } from './fatal-error-handler.js';
import { LoggerToken } from './logger.js';
import { ExecutorsToken, RuntimeOptionsToken } from './runtime.js';
import { SchedulerToken } from './scheduler.js';
import { TaskSlotTableToken } from './task-slot-table.js';

/**
 * DI tokens of everything an integrator can override through a tsyringe container.
 *
 * @example
 * ```ts
 * const parent = container.createChildContainer();
 * parent.registerInstance(Tokens.FatalErrorHandler, new EmitOnlyFatalErrorHandler());
 * const runtime = createRuntime({ numberOfSlots: 2, executors, container: parent });
 * ```
 */
export const Tokens = {
  TaskSlotTable: TaskSlotTableToken,
  CancellationStrategy: CancellationStrategyToken,
  FatalErrorHandler: FatalErrorHandlerToken,
  Scheduler: SchedulerToken,
  Logger: LoggerToken,
  Events: EventsToken,
  Executors: ExecutorsToken,
  RuntimeOptions: RuntimeOptionsToken,
} as const;
