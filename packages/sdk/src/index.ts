/**
 * taskwarden: run tasks in bounded slots on pluggable executors, where every cancellation ends,
 * slots never leak and work is stopped for real.
 *
 * @example
 * ```js
 * import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
 * import { InlineExecutor } from '@taskwarden/executor-local';
 *
 * const runtime = createRuntime({
 *   numberOfSlots: 2,
 *   executors: { inline: new InlineExecutor() },
 *   cancellation: { interruptIntervalMs: 1_000, gracePeriodMs: 2_000, timeoutMs: 5_000 },
 *   fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
 * });
 * runtime.slotTable.allocateSlot({ index: 0, jobId: 'job-1', allocationId: 'a-1' });
 * runtime.slotTable.markSlotActive('a-1');
 * const task = runtime.submit({
 *   jobId: 'job-1',
 *   allocationId: 'a-1',
 *   name: 'sleep',
 *   invokable: ({ signal }) => new Promise((resolve, reject) => {
 *     const timer = setTimeout(resolve, 10_000, 'slept');
 *     signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); });
 *   }),
 * });
 * task.cancel();
 * console.log((await task.done).state); // 'CANCELED'
 * await runtime.close();
 * ```
 * @module
 */
import './polyfill.js';

export {
  DefaultCancellationStrategy,
  DIAGNOSE_TIMEOUT_MS,
} from './cancellation/default-cancellation-strategy.js';
export { defineInvokable } from './define-invokable.js';
export type { AnyTaskwardenError, SubmissionErrorCode, TaskwardenErrorOptions } from './errors.js';
export {
  CancellationArmingError,
  CancellationTimeoutError,
  DuplicateAllocationError,
  DuplicateExecutionIdError,
  ErrorCode,
  ExecutorClosedError,
  InvalidDescriptorError,
  InvalidInvokableError,
  InvalidSlotRequestError,
  isError,
  LaunchFailedError,
  NoActiveSlotError,
  NonErrorThrownError,
  nameErrorClass,
  ProtocolError,
  RuntimeClosedError,
  RuntimeFatalError,
  SerializationError,
  SlotNotFoundError,
  SlotOccupiedError,
  SlotReleasedError,
  TaskCancelledError,
  TaskFailedExternallyError,
  TaskSubmissionError,
  TaskwardenError,
  toError,
  UnknownExecutorError,
} from './errors.js';
export { BaseExecution } from './execution/base-execution.js';
export type { TerminalState } from './execution-state.js';
export { ExecutionState, isTerminal } from './execution-state.js';
export { EmitOnlyFatalErrorHandler } from './fatal/emit-only-fatal-error-handler.js';
export type { ExitProcessFatalErrorHandlerOptions } from './fatal/exit-process-fatal-error-handler.js';
export {
  ExitProcessFatalErrorHandler,
  FATAL_EXIT_CODE,
  FATAL_EXIT_DEADLINE_MS,
} from './fatal/exit-process-fatal-error-handler.js';
export type {
  CancellationHandle,
  CancellationStage,
  CancellationStrategy,
  CancellationTarget,
  CancellationTimings,
} from './interfaces/cancellation-strategy.js';
export type {
  FatalErrorEvent,
  JobState,
  JobStateChangedEvent,
  RuntimeEventEmitter,
  RuntimeEvents,
  SlotStateChangedEvent,
  TaskCancellationStageEvent,
  TaskProgressEvent,
  TaskStateChangedEvent,
  TaskStuckEvent,
} from './interfaces/events.js';
export type {
  Execution,
  ExecutionReporter,
  Executor,
  ExecutorCapabilities,
  LaunchSpec,
} from './interfaces/executor.js';
export type { FatalErrorHandler } from './interfaces/fatal-error-handler.js';
export type {
  InvocationContext,
  Invokable,
  InvokableFunction,
  InvokableReference,
  ModuleReference,
  ModuleUrlReference,
  TaskInfo,
} from './interfaces/invokable.js';
export type { Logger } from './interfaces/logger.js';
export type {
  CloseOptions,
  JobCancellationReport,
  JobSnapshot,
  LadderSnapshot,
  RuntimeHealth,
  RuntimeOptions,
  RuntimeSnapshot,
  TaskRuntime,
  TaskSnapshot,
} from './interfaces/runtime.js';
export type { ScheduledTimer, Scheduler } from './interfaces/scheduler.js';
export type {
  CanceledOutcome,
  CancellationOptions,
  FailedOutcome,
  FinishedOutcome,
  Task,
  TaskDescriptor,
  TaskOutcome,
} from './interfaces/task.js';
export type {
  AllocateSlotRequest,
  SlotReportEntry,
  SlotState,
  TaskSlotTable,
} from './interfaces/task-slot-table.js';
export { Tokens } from './interfaces/tokens.js';
export { createDefaultLogger, createRuntime } from './runtime/create-runtime.js';
export type { ResolvedRuntimeOptions } from './runtime/options.js';
export { DEFAULT_CANCELLATION, MAX_SLOTS, MAX_TIMER_MS } from './runtime/options.js';
export { SystemScheduler } from './scheduler/system-scheduler.js';
export { DefaultTaskSlotTable } from './slots/default-task-slot-table.js';
