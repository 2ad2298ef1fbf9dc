import { Worker } from 'node:worker_threads';
import type { ExecutionState, Task, TaskRuntime, TaskStateChangedEvent } from '@taskwarden/sdk';
import { DEFAULT_CANCELLATION } from '@taskwarden/sdk';
import type { WatchdogThreadData } from './watchdog-shared.js';
import { DEADLINE, LAST_BEAT, monotonicMs, SLOTS } from './watchdog-shared.js';

const THREAD_URL = new URL('./watchdog-thread.js', import.meta.url);

/** Options of {@link LoopBlockWatchdog}. */
export interface LoopBlockWatchdogOptions {
  /**
   * The cancellation timeout to enforce: give the runtime's `cancellation.timeoutMs` (or the
   * largest per-task one). Default `DEFAULT_CANCELLATION.timeoutMs` (180 000).
   */
  timeoutMs?: number;
  /**
   * How far past the timeout, and for how long without a heartbeat, before the process is killed.
   * A live loop clears the pending cancellation itself within milliseconds of the timeout (the
   * runtime's watchdog fires), so this only has to cover timer lateness. Default 1 000.
   */
  graceMs?: number;
  /** How often the main event loop beats. Default 100. */
  heartbeatIntervalMs?: number;
  /**
   * A file descriptor to append the report to as one pino-format JSON line at level 60 (fatal),
   * e.g. the fd of your pino destination file. The report always goes to stderr (fd 2) too.
   */
  logFd?: number;
}

const TRACKED_FROM: ReadonlySet<ExecutionState> = new Set(['DEPLOYING', 'INITIALIZING', 'RUNNING']);

function positive(name: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number')
    throw new TypeError(`${name} must be a number >= ${min}, got ${typeof value}`);
  if (!Number.isFinite(value) || value < min)
    throw new RangeError(`${name} must be a number >= ${min}, got ${value}`);
  return value;
}

/**
 * The last line of defence for inline work (opt-in): the runtime's cancellation watchdog is a timer
 * on the main event loop, so code that blocks the loop (a synchronous loop, a CPU-heavy parse)
 * blocks the very timer that should end it, and the task stays CANCELING for ever.
 *
 * This watchdog runs on a thread of its own. The main loop writes a heartbeat into a
 * SharedArrayBuffer every `heartbeatIntervalMs`, and the time by which the earliest pending
 * cancellation must have ended (cancel request + `timeoutMs`). When that time is `graceMs` past and
 * the loop has not beaten for `graceMs` either, the thread pauses the main thread through the
 * inspector (`Session#connectToMainThread` + `Debugger.pause`) to read its stack, writes the stack
 * to stderr (and to `logFd`), and kills the process with SIGKILL: nothing else can stop it, and a
 * supervisor restarts it. A blocked loop with no pending cancellation is left alone.
 *
 * The thread and the heartbeat timer are unref'd: they never keep the process alive.
 *
 * @example
 * ```js
 * import { createRuntime } from '@taskwarden/sdk';
 * import { InlineExecutor, LoopBlockWatchdog } from '@taskwarden/executor-local';
 *
 * const cancellation = { interruptIntervalMs: 5_000, gracePeriodMs: 10_000, timeoutMs: 30_000 };
 * const runtime = createRuntime({ numberOfSlots: 4, executors: { inline: new InlineExecutor() }, cancellation });
 * const watchdog = new LoopBlockWatchdog({ timeoutMs: cancellation.timeoutMs });
 * watchdog.watch(runtime);
 * // ...
 * await runtime.close();
 * await watchdog.close();
 * ```
 */
export class LoopBlockWatchdog {
  readonly #state: BigInt64Array;
  readonly #timeout: bigint;
  readonly #worker: Worker;
  readonly #heartbeat: NodeJS.Timeout;
  /** Pending cancellations: the task and when its cancellation times out. */
  readonly #pending = new Map<Task, bigint>();
  readonly #unwatch = new Set<() => void>();
  #closing: Promise<void> | undefined;

  /**
   * Starts the watchdog thread and the heartbeat.
   * @throws TypeError or RangeError naming a bad option; whatever `new Worker` throws if no thread
   * can be started.
   */
  constructor(options: LoopBlockWatchdogOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('LoopBlockWatchdog options must be an object');
    const timeoutMs = positive('timeoutMs', options.timeoutMs, DEFAULT_CANCELLATION.timeoutMs);
    const graceMs = positive('graceMs', options.graceMs, 1_000);
    const heartbeatIntervalMs = positive('heartbeatIntervalMs', options.heartbeatIntervalMs, 100);
    const { logFd } = options;
    if (logFd !== undefined && (!Number.isSafeInteger(logFd) || logFd < 0)) {
      throw new RangeError(`logFd must be a file descriptor (an integer >= 0), got ${String(logFd)}`);
    }
    this.#timeout = BigInt(Math.ceil(timeoutMs));
    this.#state = new BigInt64Array(new SharedArrayBuffer(SLOTS * BigInt64Array.BYTES_PER_ELEMENT));
    Atomics.store(this.#state, LAST_BEAT, monotonicMs());
    const workerData: WatchdogThreadData = {
      state: this.#state,
      graceMs,
      checkIntervalMs: Math.max(10, Math.min(heartbeatIntervalMs, Math.floor(graceMs / 4))),
      captureTimeoutMs: Math.max(500, graceMs),
      logFd,
    };
    this.#worker = new Worker(THREAD_URL, { workerData });
    this.#worker.unref();
    // The watchdog must never take the process down by itself failing: an error only ends it.
    this.#worker.on('error', () => undefined);
    this.#heartbeat = setInterval(
      () => Atomics.store(this.#state, LAST_BEAT, monotonicMs()),
      heartbeatIntervalMs,
    );
    this.#heartbeat.unref();
  }

  /** Cancellations being tracked (tasks cancelled or failed whose work has not stopped). */
  get pendingCancellations(): number {
    return this.#pending.size;
  }

  /**
   * Tracks the cancellations of `runtime`'s tasks: a task that enters CANCELING, or is failed while
   * its work runs, counts until its `done` resolves. Returns a function that stops watching.
   */
  watch(runtime: TaskRuntime): () => void {
    const onChange = ({ task, from, to }: TaskStateChangedEvent): void => {
      if (to === 'CANCELING' || (to === 'FAILED' && TRACKED_FROM.has(from))) this.#track(task);
    };
    runtime.events.on('taskStateChanged', onChange);
    const unwatch = (): void => {
      runtime.events.off('taskStateChanged', onChange);
      this.#unwatch.delete(unwatch);
    };
    this.#unwatch.add(unwatch);
    return unwatch;
  }

  /** Stops the heartbeat and the thread; resolves when the thread has exited. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const unwatch of [...this.#unwatch]) unwatch();
      clearInterval(this.#heartbeat);
      this.#pending.clear();
      Atomics.store(this.#state, DEADLINE, 0n);
      await this.#worker.terminate();
    })();
    return this.#closing;
  }

  #track(task: Task): void {
    if (this.#pending.has(task) || this.#closing) return;
    this.#pending.set(task, monotonicMs() + this.#timeout);
    this.#publish();
    task.done.then(() => {
      this.#pending.delete(task);
      this.#publish();
    });
  }

  #publish(): void {
    let earliest = 0n;
    for (const deadline of this.#pending.values())
      if (earliest === 0n || deadline < earliest) earliest = deadline;
    Atomics.store(this.#state, DEADLINE, earliest);
  }
}
