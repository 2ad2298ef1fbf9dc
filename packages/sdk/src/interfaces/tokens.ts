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
  /** The `TaskSlotTable` (shared by every runtime made with the container; not closed by them). */
  TaskSlotTable: TaskSlotTableToken,
  /** The `CancellationStrategy` (the ladder). */
  CancellationStrategy: CancellationStrategyToken,
  /** The `FatalErrorHandler`. */
  FatalErrorHandler: FatalErrorHandlerToken,
  /** The `Scheduler` (every timer). */
  Scheduler: SchedulerToken,
  /** The root pino `Logger`. */
  Logger: LoggerToken,
  /** The runtime's event emitter (always the runtime's own; a registration in the parent is ignored). */
  Events: EventsToken,
  /** The executors map (`Record<string, Executor>`), used when `options.executors` is absent. */
  Executors: ExecutorsToken,
  /** The validated runtime options (registered by `createRuntime`; read-only for overrides). */
  RuntimeOptions: RuntimeOptionsToken,
} as const;
