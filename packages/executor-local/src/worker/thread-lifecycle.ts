/**
 * The life of the pool's threads: starting them, parking idle ones (and ending those idle too
 * long), terminating them, and noticing their exit.
 *
 * Accounting rule: a thread counts against `maxThreads` from `new Worker` until its `'exit'` event
 * has been handled. A hard-stopped thread therefore keeps its place until it has really exited, and
 * only then is a replacement started (lazily, by the pool, for the next waiting task).
 *
 * What a thread's tasks spawned goes with the thread (see `process-tree/`): once a thread has
 * spawned anything, terminating it SIGKILLs its process tree at once (which also frees a thread
 * blocked in `execSync` and the like), and its exit is handled only after a last sweep found the
 * tree gone (or its bound passed): until then it still counts, and its task has no outcome.
 * @internal
 * @module
 */
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import { MessageChannel, Worker } from 'node:worker_threads';
import { WorkerStartError } from '../errors.js';
import type { SpawnedProcessTree } from './process-tree/spawned-process-tree.js';
import { ThreadTree } from './process-tree/thread-tree.js';
import type { TreeKillSetup } from './process-tree/tree-kill-setup.js';
import type { LoggerInfo, RunnerData, WorkerMessage } from './protocol.js';
import { CHANNEL_CLOSED, SIGNAL_SLOTS, SPAWNED, STOPPING, SYNC_SPAWNS, UNPLACED } from './protocol.js';
import type { WorkerExecution } from './worker-execution.js';
import type { ResolvedWorkerExecutorOptions } from './worker-executor-options.js';

/** The runner and all it imports in one CommonJS file, made by the build (see worker-runner.ts). */
const RUNNER_URL = new URL('./worker-runner.cjs', import.meta.url);
/** The orphan reaper, bundled too (see process-tree/orphan-reaper.ts). */
const REAPER_PATH = fileURLToPath(new URL('./process-tree/orphan-reaper.cjs', import.meta.url));

/** `idle` waits for a task; `busy` runs one (or is booting for one); `exiting` was terminated or crashed. */
export type ThreadState = 'busy' | 'idle' | 'exiting';

/** One worker thread of the pool; counted until its `'exit'` has been handled, whatever its state. */
export class PoolThread {
  readonly worker: Worker;
  /** The host's end of the task channel. */
  readonly port: MessagePort;
  /** Resolves once the thread has exited and its tasks have been settled. */
  readonly exited: Promise<void>;
  /** Shared with the thread: see `RunnerData.signals`. */
  readonly signals: Int32Array;
  /** What the thread's tasks spawned. */
  readonly tree: SpawnedProcessTree;
  state: ThreadState = 'busy';
  /** The task the thread runs (or is about to run: see `offered`). */
  current: WorkerExecution | undefined;
  /** A task offered to the thread for when `current` ends; see `offer-protocol.ts`. */
  offered: WorkerExecution | undefined;
  /** When `current` was given to the thread; the longest-running thread gets the offer. */
  currentSince = 0;
  idleSince = 0;
  terminatedAt = 0;
  referenced = true;
  /** Resolves on its `'exit'` event (before its tasks are settled: see `exited`). */
  readonly died: Promise<void>;
  #markDied!: () => void;
  /** The uncaught exception reported by `'error'`, kept as the cause of `WorkerExitedError`. */
  crash: unknown;
  /** Why the pool terminated the thread; the running task (if any) fails with it. */
  stopReason: Error | undefined;
  /** Armed when the task channel closed unannounced: the thread must exit before it fires. */
  channelCloseTimer: NodeJS.Timeout | undefined;
  #markExited!: () => void;

  constructor(worker: Worker, port: MessagePort, signals: Int32Array, tree: SpawnedProcessTree) {
    this.worker = worker;
    this.port = port;
    this.signals = signals;
    this.tree = tree;
    this.exited = new Promise((resolve) => {
      this.#markExited = resolve;
    });
    this.died = new Promise((resolve) => {
      this.#markDied = resolve;
    });
  }

  /** True once the thread has spawned a process (or was about to): its tree must be swept. */
  get spawned(): boolean {
    return Atomics.load(this.signals, SPAWNED) !== 0;
  }

  /** Keeps the process alive while the thread runs a task or is being stopped. */
  ref(): void {
    if (this.referenced) return;
    this.referenced = true;
    this.worker.ref();
  }

  /** An idle thread never keeps the process alive. */
  unref(): void {
    if (!this.referenced) return;
    this.referenced = false;
    this.worker.unref();
  }

  /** @internal called by {@link ThreadLifecycle} on the `'exit'` event. */
  markDied(): void {
    this.#markDied();
  }

  /** @internal called by {@link ThreadLifecycle} once the exit has been handled. */
  markExited(): void {
    this.#markExited();
  }
}

/** What the pool does with what its threads say and do. */
export interface ThreadEvents {
  /** A message on the task channel. */
  message(thread: PoolThread, message: WorkerMessage): void;
  /**
   * The thread has died: read what it posted and was not handled yet (its last spawns among it),
   * before the last sweep of its process tree.
   */
  drain(thread: PoolThread): void;
  /** A message on the task channel could not be deserialized. */
  messageError(thread: PoolThread, error: Error): void;
  /** The task channel closed; `confirmed`: the runner said it is alive and saw the close. */
  channelClosed(thread: PoolThread, confirmed: boolean): void;
  /**
   * The thread has exited and no longer counts against `maxThreads`; its channel is still open, so
   * what it posted before it died can be read. Settle its tasks; a replacement may be started.
   */
  exited(thread: PoolThread, exitCode: number): void;
}

/**
 * Starts, parks, terminates and reaps the pool's threads, and counts them.
 * @internal
 */
export class ThreadLifecycle {
  readonly #options: ResolvedWorkerExecutorOptions;
  readonly #events: ThreadEvents;
  readonly #loggerInfo: () => LoggerInfo;
  readonly #threads = new Set<PoolThread>();
  /** Idle threads, most recently used last (reused first, so the others can time out). */
  readonly #idle: PoolThread[] = [];
  #reapTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #treeKill: TreeKillSetup;

  /**
   * `loggerInfo`: what each new thread is told about the task loggers; `treeKill`: how the
   * processes its tasks spawn are tracked and killed.
   */
  constructor(
    options: ResolvedWorkerExecutorOptions,
    events: ThreadEvents,
    loggerInfo: () => LoggerInfo,
    treeKill: TreeKillSetup,
  ) {
    this.#options = options;
    this.#events = events;
    this.#loggerInfo = loggerInfo;
    this.#treeKill = treeKill;
  }

  /** Every counted thread. */
  get threads(): ReadonlySet<PoolThread> {
    return this.#threads;
  }

  /** Threads counted against `maxThreads`: live ones and exiting ones whose exit is not handled yet. */
  get size(): number {
    return this.#threads.size;
  }

  get idleCount(): number {
    return this.#idle.length;
  }

  get exitingCount(): number {
    let exiting = 0;
    for (const thread of this.#threads) if (thread.state === 'exiting') exiting++;
    return exiting;
  }

  /** True when a task would have to wait: no idle thread and no room for another. */
  get saturated(): boolean {
    return this.#idle.length === 0 && this.#threads.size >= this.#options.maxThreads;
  }

  /**
   * An idle thread (the most recently used), or a new one if there is room; undefined when every
   * place is taken (or after {@link ThreadLifecycle.close}).
   * @throws WorkerStartError when `new Worker` throws.
   */
  take(): PoolThread | undefined {
    const thread = this.#idle.pop();
    if (thread) {
      thread.ref();
      return thread;
    }
    if (this.#threads.size >= this.#options.maxThreads || this.#closed) return undefined;
    return this.#start();
  }

  /** The thread has nothing to do: it waits for work, and ends after `idleTimeoutMs`. */
  park(thread: PoolThread): void {
    thread.state = 'idle';
    thread.idleSince = performance.now();
    this.#idle.push(thread);
    thread.unref();
    this.#armReaper();
  }

  /**
   * Terminates the thread; resolves once it has exited and its tasks have been settled. `reason`
   * is what its running task (if any) fails with. Idempotent.
   */
  terminate(thread: PoolThread, reason: Error | undefined): Promise<void> {
    if (thread.state === 'exiting') return thread.exited;
    this.#unpark(thread);
    thread.state = 'exiting';
    thread.terminatedAt = performance.now();
    thread.stopReason = reason;
    // Keep the process alive until the thread is really gone, so a pending close() can finish.
    thread.ref();
    thread.worker.terminate().catch(() => undefined);
    // STOPPING, then SPAWNED (see STOPPING): the thread starts nothing from now on, or it did.
    Atomics.store(thread.signals, STOPPING, 1);
    // At once, not after the exit: a thread blocked in execSync exits only when its child has.
    if (thread.spawned) void thread.tree.kill(thread.died);
    return thread.exited;
  }

  /** No new threads from now on; idle threads are no longer reaped by time (close() ends them). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#reapTimer);
    this.#reapTimer = undefined;
  }

  #start(): PoolThread {
    let worker: Worker;
    const { port1, port2 } = new MessageChannel();
    const signals = new Int32Array(new SharedArrayBuffer(SIGNAL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
    const tree = this.#treeKill.forThread();
    const workerData: RunnerData = {
      port: port2,
      signals,
      logger: this.#loggerInfo(),
      tree: { ...tree, reaperPath: REAPER_PATH },
    };
    try {
      worker = new Worker(RUNNER_URL, {
        workerData,
        transferList: [port2],
        ...(this.#options.resourceLimits ? { resourceLimits: this.#options.resourceLimits } : {}),
      });
    } catch (error) {
      port1.close();
      throw new WorkerStartError(error);
    }
    const thread = new PoolThread(
      worker,
      port1,
      signals,
      new ThreadTree({
        ...tree,
        unplaced: () => Atomics.load(signals, UNPLACED) !== 0,
        waitsForSyncSpawn: () => Atomics.load(signals, SYNC_SPAWNS) !== 0,
      }),
    );
    this.#threads.add(thread);
    const events = this.#events;
    port1.on('message', (message: WorkerMessage) => events.message(thread, message));
    port1.on('messageerror', (error: Error) => events.messageError(thread, error));
    port1.on('close', () => events.channelClosed(thread, false));
    // Node's own channel carries one thing the pool listens for; whatever else task code posts there is not ours.
    worker.on('message', (message: unknown) => {
      if (message === CHANNEL_CLOSED) events.channelClosed(thread, true);
    });
    worker.on('error', (error: unknown) => {
      thread.crash = error;
    });
    worker.on('exit', (code: number) => this.#onExit(thread, code));
    // The worker handle alone keeps the process alive while a task runs (see take / park).
    // After the listeners: adding a 'message' listener refs a port again.
    port1.unref();
    return thread;
  }

  #onExit(thread: PoolThread, exitCode: number): void {
    this.#unpark(thread);
    // 'exiting' first: a result read while the exit is handled must not hand this dead thread a task.
    thread.state = 'exiting';
    thread.markDied();
    clearTimeout(thread.channelCloseTimer);
    thread.channelCloseTimer = undefined;
    // The last sweep, now that nothing can spawn in the tree's name any more (a kill begun by the
    // hard stop makes it: it was waiting for this exit), once the host knows every spawn.
    if (thread.spawned) {
      this.#events.drain(thread);
      void thread.tree.kill().then(() => this.#exited(thread, exitCode));
    } else this.#exited(thread, exitCode);
  }

  #exited(thread: PoolThread, exitCode: number): void {
    this.#threads.delete(thread);
    try {
      this.#events.exited(thread, exitCode);
    } finally {
      thread.port.close();
      thread.markExited();
    }
  }

  #unpark(thread: PoolThread): void {
    if (thread.state !== 'idle') return;
    const index = this.#idle.indexOf(thread);
    if (index !== -1) this.#idle.splice(index, 1);
  }

  #armReaper(): void {
    if (this.#reapTimer !== undefined || this.#options.idleTimeoutMs === Number.POSITIVE_INFINITY) return;
    if (this.#closed) return;
    this.#reapTimer = setTimeout(() => this.#reap(), this.#options.idleTimeoutMs);
    this.#reapTimer.unref();
  }

  #reap(): void {
    this.#reapTimer = undefined;
    const timeout = this.#options.idleTimeoutMs;
    const now = performance.now();
    let nextDue = Number.POSITIVE_INFINITY;
    for (const thread of [...this.#idle]) {
      const idleFor = now - thread.idleSince;
      // Timers fire up to a millisecond early by our clock; treat that as due.
      if (idleFor >= timeout - 1) void this.terminate(thread, undefined);
      else nextDue = Math.min(nextDue, timeout - idleFor);
    }
    if (nextDue !== Number.POSITIVE_INFINITY) {
      this.#reapTimer = setTimeout(() => this.#reap(), Math.ceil(nextDue));
      this.#reapTimer.unref();
    }
  }
}
