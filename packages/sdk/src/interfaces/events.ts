import type { EventEmitter } from 'eventemitter3';
import type { ExecutionState } from '../execution-state.js';
import type { Task } from './task.js';
import type { SlotState } from './task-slot-table.js';

/** `taskStateChanged` payload. */
export interface TaskStateChangedEvent {
  task: Task;
  from: ExecutionState;
  to: ExecutionState;
  cause?: Error;
}

/** `slotStateChanged` payload. */
export interface SlotStateChangedEvent {
  index: number;
  allocationId: string;
  jobId: string;
  from: SlotState;
  to: SlotState;
}

/** `taskStuck` payload: the work has not stopped `elapsedMs` after the cancel request. */
export interface TaskStuckEvent {
  task: Task;
  elapsedMs: number;
  diagnostics?: string;
}

/** `taskProgress` payload: the work reported `progress` (`ctx.reportProgress`). */
export interface TaskProgressEvent {
  task: Task;
  progress: unknown;
}

/** States of a job; a CANCELING job still counts as running. */
export type JobState = 'RUNNING' | 'CANCELING' | 'CANCELED';

/** `jobStateChanged` payload. */
export interface JobStateChangedEvent {
  jobId: string;
  from: JobState;
  to: JobState;
}

/** `fatalError` payload. */
export interface FatalErrorEvent {
  error: Error;
  task?: Task;
}

/** Every event of `runtime.events`. */
export interface RuntimeEvents {
  taskStateChanged: (event: TaskStateChangedEvent) => void;
  slotStateChanged: (event: SlotStateChangedEvent) => void;
  taskStuck: (event: TaskStuckEvent) => void;
  taskProgress: (event: TaskProgressEvent) => void;
  jobStateChanged: (event: JobStateChangedEvent) => void;
  fatalError: (event: FatalErrorEvent) => void;
}

/** The typed emitter of `runtime.events`. */
export type RuntimeEventEmitter = EventEmitter<RuntimeEvents>;

/** DI token of the runtime's event emitter. */
export const EventsToken: unique symbol = Symbol.for('@taskwarden/sdk:Events');
