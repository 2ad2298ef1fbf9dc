/**
 * The messages between the pool (host) and a worker thread. One task runs on a thread at a time;
 * every message names the task by `id`, unique per executor, so a late message about a task that
 * has already ended is recognised and dropped.
 *
 * Per task: one `run` down, then `started` (only when the invokable has `restore`), `running`,
 * optional `log` records and `progress` reports, and exactly one `result`, `error` or `uncloneable`
 * up. `cancel` goes down at most once; a `progressAck` answers each `progress`. A `run` may be an offer (see {@link OFFER}); an offer taken back produces no message
 * at all.
 *
 * Messages are tuples, `[kind, id, ...]`, not objects: structured clone writes and reads (and
 * interns) every property name of an object, which made up half the cost of copying a `run`
 * message. The element names below are the documentation.
 * @internal
 * @module
 */
import type { MessagePort } from 'node:worker_threads';
import type { SerializedError } from '@taskwarden/sdk/internal';
import type { ThreadTreeSpec } from './process-tree/tree-kill-setup.js';

/** Message kinds, the first element of every message. */
export const Kind = Object.freeze({
  run: 0,
  cancel: 1,
  started: 2,
  running: 3,
  result: 4,
  error: 5,
  log: 6,
  uncloneable: 7,
  progress: 8,
  progressAck: 9,
  spawned: 10,
  reaped: 11,
} as const);

/**
 * Host → worker: run a task. `logLevel` is the pino level value below which log records are
 * dropped. `offered` (1) marks an offer: the thread may run it only after claiming it in
 * `signals[OFFER]`, because the host may take it back (see {@link OFFER}).
 */
export type RunMessage = readonly [
  kind: typeof Kind.run,
  id: number,
  module: string,
  exportName: string | undefined,
  input: unknown,
  executionId: string,
  jobId: string,
  allocationId: string,
  name: string,
  attempt: number,
  logLevel: number,
  offered: 0 | 1,
  /** `TaskInfo.fencingToken`, when the task has one. */
  fencingToken?: number,
];

/** Host → worker: abort the task's signal and call its `cancel()` hook. */
export type CancelMessage = readonly [kind: typeof Kind.cancel, id: number, reason: SerializedError];

/** Worker → host: the module is loaded and `restore` is about to run. */
export type StartedMessage = readonly [kind: typeof Kind.started, id: number];

/** Worker → host: `invoke` is about to be called (implies `started`). */
export type RunningMessage = readonly [kind: typeof Kind.running, id: number];

/** Worker → host: `invoke` returned this value. */
export type ResultMessage = readonly [kind: typeof Kind.result, id: number, value: unknown];

/** Worker → host: loading, `restore` or `invoke` threw. */
export type ErrorMessage = readonly [kind: typeof Kind.error, id: number, error: SerializedError];

/**
 * Worker → host: `invoke` returned a value that structured clone cannot copy; `cause` is the
 * `DataCloneError`. The host fails the task with `SerializationError('result')` (built there: the
 * runner bundle does not carry the SDK's main entry).
 */
export type UncloneableMessage = readonly [kind: typeof Kind.uncloneable, id: number, cause: SerializedError];

/**
 * Worker → host: a record of the task's logger, written on the host through the task's logger.
 * `level` is a pino level value; `bindings` are those of `logger.child(...)` calls, outermost first. `errType`: the constructor name
 * of `obj.err` in the worker (pino writes it as `type`; the rebuilt error has its own constructor).
 */
export type LogMessage = readonly [
  kind: typeof Kind.log,
  id: number,
  level: number,
  bindings: readonly Record<string, unknown>[],
  obj: Record<string, unknown> | undefined,
  msg: string | undefined,
  errType?: string,
];

/**
 * Worker → host: `ctx.reportProgress(value)`. At most one is in flight per task: the next is
 * posted after the host's {@link ProgressAckMessage} (or, once, right before the outcome).
 */
export type ProgressMessage = readonly [kind: typeof Kind.progress, id: number, value: unknown];

/** Host → worker: the task's last `progress` report was delivered to the runtime. */
export type ProgressAckMessage = readonly [kind: typeof Kind.progressAck, id: number];

/**
 * Worker → host: the thread spawned process `pid` (it leads its own process group and session), while task
 * `id` ran (0 between tasks). See `process-tree/spawn-tracking.ts`.
 */
export type SpawnedMessage = readonly [kind: typeof Kind.spawned, id: number, pid: number];

/** Worker → host: spawned process `pid` has exited and was reaped (its id may be reused). */
export type ReapedMessage = readonly [kind: typeof Kind.reaped, id: number, pid: number];

/** What the host sends. */
export type HostMessage = RunMessage | CancelMessage | ProgressAckMessage;

/** What a worker sends. */
export type WorkerMessage =
  | StartedMessage
  | RunningMessage
  | ResultMessage
  | ErrorMessage
  | UncloneableMessage
  | LogMessage
  | ProgressMessage
  | SpawnedMessage
  | ReapedMessage;

/**
 * What the host tells its threads about the task loggers, read once from the first task's logger,
 * so that `ctx.logger.bindings()` in a worker is what it is on the host without a round trip.
 */
export interface LoggerInfo {
  /** The task logger's bindings, less `jobId`, `executionId` and `task` when it binds those. */
  readonly bindings: Readonly<Record<string, unknown>>;
  /** The task logger binds `{ jobId, executionId, task }` to the task's own (the runtime's do). */
  readonly bindsTask: boolean;
  /** The host pino's `version`. */
  readonly version: string;
}

/** The `workerData` of every pool thread. */
export interface RunnerData {
  /** The task channel (the worker's end); `parentPort` is left to Node. */
  readonly port: MessagePort;
  /** Shared slots; see {@link WAKEUPS}, {@link TAKEN} and {@link OFFER}. */
  readonly signals: Int32Array;
  /** See {@link LoggerInfo}. */
  readonly logger: LoggerInfo;
  /** What the thread needs to track the processes its tasks spawn (`process-tree/`). */
  readonly tree: ThreadTreeSpec & {
    /** Path of the bundled orphan reaper, which the thread's sentinel runs if the host dies. */
    readonly reaperPath: string;
  };
}

/**
 * Worker → host, on Node's own `parentPort` (the task channel is gone by then): the runner saw its
 * task channel close while the thread is alive, i.e. task code closed `workerData.port`. A thread
 * that dies closes its channel too, but runs no JavaScript while it does, so this notice tells the
 * two apart at once; without it the host decides after a grace period (see `WorkerPool`).
 */
export const CHANNEL_CLOSED = 'taskwarden:worker-channel-closed';

/** `signals` slot bumped (and notified) by the host after every `run`: wakes a thread idle in `Atomics.wait`. */
export const WAKEUPS = 0;
/**
 * `signals` slot where the worker stores the id of each task as it takes its `run` message, so that
 * after a crash the host knows whether the task on the thread ever reached it.
 */
export const TAKEN = 1;
/**
 * `signals` slot of the task offered to this thread: the host stores its id when it posts the offer;
 * the thread claims it with `compareExchange(id → 0)` when its current task has ended, and the host
 * takes it back with the same exchange when another thread is free first (or the task is
 * cancelled). Whoever exchanges first wins, so an offered task runs exactly once or not at all.
 */
export const OFFER = 2;
/**
 * `signals` slot the worker sets (to 1) before its first spawn: from then on the host sweeps the
 * thread's process tree whenever it stops the thread. Shared memory, not a message, so a spawn
 * the host has not heard of yet is not missed by a hard stop.
 */
export const SPAWNED = 3;
/**
 * `signals` slot the host sets (to 1) when it terminates the thread: from then on the thread starts
 * no process. With {@link SPAWNED} it closes the race of a spawn and a hard stop: the host sets
 * this, then reads that; the thread sets that, then reads this; so either the thread refuses the
 * spawn or the host knows the tree must be killed.
 */
export const STOPPING = 4;
/**
 * `signals` slot the worker sets (to 1), in `'cgroup'` mode, before it starts a process that will
 * not have joined the thread's cgroup before it runs (see `process-tree/spawn-placement.ts`): from
 * then on the host also searches the thread's tree by its cookie.
 */
export const UNPLACED = 5;
/**
 * `signals` slot counting the `*Sync` spawns the worker is blocked in (added to before the call,
 * taken from after it): their pids cannot be reported before they have exited, so while it is not 0
 * the host looks for them among its own children by the thread's cookie.
 */
export const SYNC_SPAWNS = 6;
/** Length of `signals`. */
export const SIGNAL_SLOTS = 7;

/** pino's level values, used on both sides. */
export const LEVELS = Object.freeze({ trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 });

/** A pino level name. */
export type LevelName = keyof typeof LEVELS;

/** Level value → name, for the host to call the right method. */
export const LEVEL_NAMES: Readonly<Record<number, LevelName>> = Object.freeze({
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
});

const KIND_NAMES = [
  'run',
  'cancel',
  'started',
  'running',
  'result',
  'error',
  'log',
  'uncloneable',
  'progress',
  'progressAck',
  'spawned',
  'reaped',
];

/** The name of a message kind, for error messages. */
export function kindName(kind: unknown): string {
  return (typeof kind === 'number' && KIND_NAMES[kind]) || String(kind);
}

/**
 * Checks the shape of a message from a worker; returns a description of what is wrong, or
 * undefined when it is well formed. Only the elements the host reads are checked.
 */
export function checkWorkerMessage(message: unknown): string | undefined {
  if (!Array.isArray(message)) return `expected a tuple, got ${message === null ? 'null' : typeof message}`;
  const kind = message[0];
  if (
    kind !== Kind.started &&
    kind !== Kind.running &&
    kind !== Kind.result &&
    kind !== Kind.error &&
    kind !== Kind.uncloneable &&
    kind !== Kind.log &&
    kind !== Kind.progress &&
    kind !== Kind.spawned &&
    kind !== Kind.reaped
  ) {
    return `unknown message kind ${String(kind)}`;
  }
  if (typeof message[1] !== 'number') return `message ${kindName(kind)} has no numeric id`;
  if (kind === Kind.error || kind === Kind.uncloneable) {
    const error = message[2] as { message?: unknown } | null;
    if (typeof error !== 'object' || error === null || typeof error.message !== 'string') {
      return 'error message without a serialized error';
    }
  } else if (kind === Kind.log && (typeof message[2] !== 'number' || !Array.isArray(message[3]))) {
    return 'malformed log record';
  } else if ((kind === Kind.spawned || kind === Kind.reaped) && !Number.isSafeInteger(message[2])) {
    return `message ${kindName(kind)} has no pid`;
  }
  return undefined;
}
