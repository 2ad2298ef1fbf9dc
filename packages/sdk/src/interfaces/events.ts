import type { EventEmitter } from 'eventemitter3';
import type { ExecutionState } from '../execution-state.js';
import type { CancellationStage } from './cancellation-strategy.js';
import type { Task } from './task.js';
import type { SlotState } from './task-slot-table.js';

/** `taskStateChanged` payload. */
export interface TaskStateChangedEvent {
  /** The task (its `state` is already `to`). */
  task: Task;
  /** The state it left. */
  from: ExecutionState;
  /** The state it entered. */
  to: ExecutionState;
  /** Present when `to` is FAILED: why. */
  cause?: Error;
}

/** `slotStateChanged` payload. */
export interface SlotStateChangedEvent {
  /** The slot's index. */
  index: number;
  /** The allocation holding it (the one that held it, for a move to FREE). */
  allocationId: string;
  /** The allocation's job. */
  jobId: string;
  /** The state it left. */
  from: SlotState;
  /** The state it entered. */
  to: SlotState;
}

/** `taskStuck` payload: the work has not stopped `elapsedMs` after the cancel request. */
export interface TaskStuckEvent {
  /** The task being cancelled. */
  task: Task;
  /** Time since the cancel request, in ms. */
  elapsedMs: number;
  /** Where the work is stuck (a stack), when the executor can tell. */
  diagnostics?: string;
}

/** `taskProgress` payload: the work reported `progress` (`ctx.reportProgress`). */
export interface TaskProgressEvent {
  /** The task (its `progress` is already this value). */
  task: Task;
  /** The value reported: a number from 0 to 1 or any cloneable value. */
  progress: unknown;
}

/** `taskCancellationStage` payload: the task's cancellation ladder reached `stage`. */
export interface TaskCancellationStageEvent {
  /** The task being stopped. */
  task: Task;
  /** `'signal'`, `'interrupt'`, `'hard_stop'` or `'watchdog'`. */
  stage: CancellationStage;
  /** Time since the cancel request, in ms. */
  elapsedMs: number;
}

/** States of a job; a CANCELING job still counts as running. */
export type JobState = 'RUNNING' | 'CANCELING' | 'CANCELED';

/** `jobStateChanged` payload. */
export interface JobStateChangedEvent {
  /** The job. */
  jobId: string;
  /** The state it left. */
  from: JobState;
  /** The state it entered. */
  to: JobState;
}

/** `fatalError` payload. */
export interface FatalErrorEvent {
  /** What the fatal error handler was called with (`CancellationTimeoutError`, `CancellationArmingError`). */
  error: Error;
  /** The task given up on. */
  task?: Task;
}

/**
 * Every event of `runtime.events`. Listeners run synchronously, inside the transition that emits them
 * (the state is already the new one), so they see every step in order and may call `task.cancel()`
 * or `task.fail()` — which take effect at once. A listener that throws is logged at error level and
 * the remaining listeners of that emit are skipped (eventemitter3); the transition completes anyway.
 */
export interface RuntimeEvents {
  /** After every task transition (four per task on the normal path), including the terminal one. */
  taskStateChanged: (event: TaskStateChangedEvent) => void;
  /** After every slot transition (allocate, activate, deactivate, release, free). */
  slotStateChanged: (event: SlotStateChangedEvent) => void;
  /** Each interrupter round of a task that has not stopped after its cancel (with the stack, if any). */
  taskStuck: (event: TaskStuckEvent) => void;
  /**
   * Each stage of a task's cancellation ladder: the signal, every interrupter round, the hard stop,
   * the watchdog giving up.
   */
  taskCancellationStage: (event: TaskCancellationStageEvent) => void;
  /** Each progress report of the work that reaches the runtime (reports may be coalesced on the way). */
  taskProgress: (event: TaskProgressEvent) => void;
  /** When a job enters CANCELING (`cancelJob`) and when it ends CANCELED. */
  jobStateChanged: (event: JobStateChangedEvent) => void;
  /** After the fatal error handler was called (the runtime's health is `'fatal'`). */
  fatalError: (event: FatalErrorEvent) => void;
}

/** The typed emitter of `runtime.events`. */
export type RuntimeEventEmitter = EventEmitter<RuntimeEvents>;

/** DI token of the runtime's event emitter. */
export const EventsToken: unique symbol = Symbol.for('@taskwarden/sdk:Events');
