import { spawn as nodeSpawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { Execution, Executor, ExecutorCapabilities, LaunchSpec, Logger } from '@taskwarden/sdk';
import {
  ExecutorClosedError,
  InvalidInvokableError,
  SerializationError,
  TaskCancelledError,
  toError,
} from '@taskwarden/sdk';
import type { TreeKillMode } from '@taskwarden/sdk/internal';
import {
  checkTreeKillOption,
  isModuleReference,
  logSafely,
  treeKillLogFields,
} from '@taskwarden/sdk/internal';
import type { ChildProcessHandleOptions, SpawnFunction } from './child-process-handle.js';
import { ChildProcessHandle } from './child-process-handle.js';
import { monotonicMs } from './lease-clock.js';
import type { ExecutionHost } from './process-execution.js';
import { ProcessExecution } from './process-execution.js';
import type { KillFunction } from './process-group.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  encodeFrame,
  MAX_MAX_MESSAGE_BYTES,
  MIN_MAX_MESSAGE_BYTES,
} from './protocol.js';
import type { TreeKillOption } from './tree-kill-plan.js';
import { TreeKillPlan } from './tree-kill-plan.js';

/** A child's watchdog needs this long, beyond one poll, to kill its tree once its lease ran out. */
const LEASE_KILL_SLACK_MS = 20;

/** The longest delay a Node timer takes; longer ones overflow to 1 ms (with only a warning). */
const MAX_TIMER_MS = 2_147_483_647;
/** The default `killGraceMs`. */
const DEFAULT_KILL_GRACE_MS = 2_000;
/**
 * What a hard stop takes beyond `killGraceMs`, at most: after the SIGKILL the kernel tears the
 * processes down (a few ms), the host notices the empty group and cgroup within one poll (at most
 * 100 ms apart) or, in `'cookie'` mode, after a scan or two of /proc (tens of ms), and drains the
 * pipes (at most 100 ms); the rest is slack for a busy host's event loop.
 */
const HARD_STOP_MARGIN_MS = 500;

/**
 * Options of {@link ProcessExecutor}. Each is validated up front (`TypeError`/`RangeError` naming it);
 * an unknown key, such as a misspelt `killGraceMS`, is a `TypeError` naming it.
 */
export interface ProcessExecutorOptions {
  /** How many child processes may exist at once; tasks beyond it wait in DEPLOYING. Default: `os.availableParallelism()`. */
  maxProcesses?: number;
  /**
   * Delay between SIGTERM and SIGKILL to the child's whole tree on a hard stop. The hard stop then
   * takes at most `killGraceMs + 500` ms (`capabilities.hardStopMs`), which a runtime's
   * `timeoutMs - gracePeriodMs` must cover.
   * @default 2000
   */
  killGraceMs?: number;
  /** Node options for the children (not inherited from the host). Default `[]`. */
  execArgv?: readonly string[];
  /** The children's environment; replaces the host's, as in `child_process`. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The children's working directory. Default: the host's. */
  cwd?: string;
  /**
   * Keep a process whose task returned or threw for later tasks (module imports stay cached). A
   * process whose task was cancelled, killed or crashed is never reused. Default false: one fresh
   * process per task.
   */
  reuse?: boolean;
  /**
   * With `reuse`: an idle process is stopped after this long. Default 30 000. `Infinity`, or any
   * value beyond what a timer can wait (2^31-1 ms, about 24.8 days), means never.
   */
  idleTimeoutMs?: number;
  /** Longer stdout/stderr lines are cut before logging; bounds what is buffered per stream. Default 16 384. */
  maxLogLineBytes?: number;
  /**
   * How often the child's watchdog thread checks that the host is alive; it kills the child's
   * group within about this long after the host dies. Default 100.
   */
  watchdogPollMs?: number;
  /** How long `diagnose()` waits for the child's stack, at most 2^31-1. Default 1 500. */
  diagnoseTimeoutMs?: number;
  /**
   * The largest message either side accepts on the control pipe, in bytes of the serialized
   * message: a task's input, result or error. Default 256 MiB; from 64 KiB to 4 GiB - 1. An input
   * above it fails the task in DEPLOYING with a `SerializationError` (`what: 'input'`) before any
   * process is taken; a result above it fails the task with a `SerializationError`
   * (`what: 'result'`); a child that announces a larger frame anyway fails its task with a
   * `ProtocolError` and is killed. Both sides hold up to about twice this while a message is in flight.
   */
  maxMessageBytes?: number;
  /**
   * How a child's descendants are found and killed: `'auto'` takes the strongest this machine
   * allows (`'cgroup'`, then `'cookie'`, then `'process-group'`); naming a weaker mode forces it
   * (for tests). Naming a mode that is not available is a `RangeError` saying why. See the README
   * for what each mode reaches and what can escape it.
   * @default 'auto'
   */
  treeKill?: TreeKillOption;
  /**
   * Where the executor logs what is not any task's: one `info` line at start naming the tree-kill
   * mode (and why stronger ones are not available) and whether children get a parent-death signal.
   * Without one, that line goes to the logger of the first task the executor launches.
   * @default undefined
   */
  logger?: Logger;
  /**
   * Children hold a lease from this host, renewed by {@link ProcessExecutor.renewHostLease}: a child
   * whose lease runs out kills its own tree, exactly as when the host dies. For hosts that can be
   * paused (SIGSTOP, a frozen VM) while something else counts on their work having stopped, such as
   * a cluster agent whose lease expired: a paused host cannot stop its children, but they stop
   * themselves. Until the first renewal the lease has run out (children end at once).
   * @default false: children live as long as the host
   */
  hostLease?: boolean;
  /**
   * Replaces `child_process.spawn`. For tests and fault injection only (make it throw an `EAGAIN`
   * error to see a task fail in DEPLOYING). It must start the given command as a direct child of
   * this process, with the given options: the child checks who its parent is.
   */
  spawn?: SpawnFunction;
  /**
   * Replaces `process.kill` for every signal the executor sends. For tests and fault injection
   * only (make it throw `EPERM` to see a hard stop that cannot start).
   */
  kill?: KillFunction;
}

/** A snapshot of an executor's processes and queue. */
export interface ProcessExecutorStats {
  /** Child processes that exist (working, idle, or being stopped and not yet gone with their group). */
  readonly processes: number;
  /** Processes running a task. */
  readonly busy: number;
  /** Processes kept for later tasks (`reuse`). */
  readonly idle: number;
  /** Tasks waiting for a process. */
  readonly queued: number;
  /** Processes spawned since the executor was created. */
  readonly spawned: number;
}

interface ResolvedOptions {
  readonly treeKill: 'auto' | TreeKillMode;
  readonly logger: Logger | undefined;
  readonly maxProcesses: number;
  readonly killGraceMs: number;
  readonly reuse: boolean;
  readonly idleTimeoutMs: number;
  readonly diagnoseTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly hostLease: boolean;
  readonly watchdogPollMs: number;
  /** The handles' settings but the tree-kill plan, which the executor makes once it has the options. */
  readonly handle: Omit<ChildProcessHandleOptions, 'treeKill' | 'leaseDeadline'>;
}

const OPTION_KEYS: ReadonlySet<string> = new Set<keyof ProcessExecutorOptions>([
  'maxProcesses',
  'killGraceMs',
  'execArgv',
  'env',
  'cwd',
  'reuse',
  'idleTimeoutMs',
  'maxLogLineBytes',
  'watchdogPollMs',
  'diagnoseTimeoutMs',
  'maxMessageBytes',
  'treeKill',
  'logger',
  'hostLease',
  'spawn',
  'kill',
]);

/**
 * Runs each task in a child Node process that leads its own process group and session and, where
 * the machine allows, its own cgroup (see {@link ProcessExecutor.treeKill}).
 *
 * - Invokables are `{ module, export? }`, imported in the child; inputs and results cross by
 *   structured clone (`v8.serialize`), errors keep name, message, stack, `code` and own fields.
 * - Cancel: the child aborts the task's `AbortSignal` and calls its `cancel()` hook. Hard stop
 *   (`kill()`): SIGTERM to the child's whole tree, SIGKILL to it `killGraceMs` later; `result`
 *   settles once no process of the tree is left, within `capabilities.hardStopMs`.
 * - No orphans: a watchdog thread in each child kills the child's tree when the host dies, even
 *   by SIGKILL and even while the task's JavaScript is busy or the child is stopped (SIGSTOP).
 *   What can still escape depends on the tree-kill mode: see the README.
 * - `ctx.reportProgress(value)` in the child reaches the runtime (`task.progress`), coalesced
 *   when reported faster than it can be delivered, the last report before the outcome.
 * - `diagnose()` returns the child's main-thread JavaScript stack, taken by that watchdog thread
 *   through the inspector.
 * - stdout/stderr lines go to the task's logger (`info` / `warn`, with `stream` and `pid` fields);
 *   `ctx.logger` in the child forwards records to the same logger.
 *
 * @example
 * ```js
 * import { createRuntime } from '@taskwarden/sdk';
 * import { ProcessExecutor } from '@taskwarden/executor-process';
 *
 * const runtime = createRuntime({
 *   numberOfSlots: 2,
 *   executors: { process: new ProcessExecutor({ maxProcesses: 2, killGraceMs: 2_000 }) },
 * });
 * runtime.slotTable.allocateSlot({ index: 0, jobId: 'job-1', allocationId: 'a-1' });
 * runtime.slotTable.markSlotActive('a-1');
 * const task = runtime.submit({
 *   jobId: 'job-1', allocationId: 'a-1', executor: 'process',
 *   invokable: { module: '/abs/path/resize.js', export: 'resize' }, input: { file: 'a.png' },
 * });
 * console.log(await task.done);
 * await runtime.close();
 * ```
 */
export class ProcessExecutor implements Executor {
  readonly name = 'process';
  /**
   * `hardStopMs` is `killGraceMs + 500`: from `kill()` to the outcome, the grace period, then the
   * SIGKILL, the host seeing the tree empty (one poll, at most 100 ms apart, or a scan of /proc) and
   * the pipes drained (at most 100 ms), with slack for a busy event loop. It does not hold for a
   * process in uninterruptible sleep (state D: a hung NFS read), which no signal ends.
   */
  readonly capabilities: ExecutorCapabilities;
  /**
   * How this executor finds and kills its children's descendants, detected at start (or forced by
   * the `treeKill` option): `'cgroup'` (a cgroup v2 per child, killed with `cgroup.kill`),
   * `'cookie'` (the child's process group and session, plus every process carrying the child's
   * environment cookie) or `'process-group'` (the group only).
   */
  readonly treeKill: TreeKillMode;
  /**
   * True when children start under `setpriv --pdeathsig CONT`: a child stopped by SIGSTOP when the
   * host dies is woken by the kernel, and its watchdog kills its whole tree within
   * `watchdogPollMs`. False when util-linux `setpriv` is missing: such a child stays stopped, and
   * its descendants run on, until something sends it SIGCONT.
   */
  readonly parentDeathSignal: boolean;

  readonly #options: ResolvedOptions;
  readonly #handleOptions: ChildProcessHandleOptions;
  /** The start-up line, until it is logged (on the first task's logger when there is no executor logger). */
  #startupLine: { fields: object; message: string } | undefined;
  readonly #queue: ProcessExecution[] = [];
  /** Every process that exists, until it and its tree are gone. */
  readonly #processes = new Set<ChildProcessHandle>();
  readonly #busy = new Map<ChildProcessHandle, ProcessExecution>();
  /** Idle processes, most recently used last. */
  readonly #idle: ChildProcessHandle[] = [];
  readonly #executionHost: ExecutionHost;
  #nextId = 1;
  #spawned = 0;
  #closing: Promise<void> | undefined;
  /** With `hostLease`: the children's deadline, in monotonic ms (0: run out). */
  #leaseDeadline = 0;

  constructor(options: ProcessExecutorOptions = {}) {
    this.#options = resolveOptions(options);
    const plan = new TreeKillPlan(this.#options.treeKill, 'options.treeKill');
    this.treeKill = plan.mode;
    this.parentDeathSignal = plan.setpriv !== undefined;
    this.capabilities = Object.freeze({
      hardStop: true,
      diagnostics: true,
      isolation: 'process',
      hardStopMs: this.#options.killGraceMs + HARD_STOP_MARGIN_MS,
    });
    this.#handleOptions = this.#options.hostLease
      ? { ...this.#options.handle, treeKill: plan, leaseDeadline: () => this.#leaseDeadline }
      : { ...this.#options.handle, treeKill: plan };
    this.#startupLine = {
      fields: {
        ...treeKillLogFields(plan),
        parentDeathSignal: plan.setpriv === undefined ? 'none (no setpriv)' : 'SIGCONT (setpriv)',
      },
      message: `process executor: killing whole process trees by ${plan.mode}`,
    };
    if (this.#options.logger) this.#logStartup(this.#options.logger);
    this.#executionHost = {
      killGraceMs: this.#options.killGraceMs,
      diagnoseTimeoutMs: this.#options.diagnoseTimeoutMs,
      dequeue: (execution) => this.#dequeue(execution),
      release: (handle, reusable) => this.#release(handle, reusable),
    };
  }

  /** A snapshot of processes and queue. */
  get stats(): ProcessExecutorStats {
    return {
      processes: this.#processes.size,
      busy: this.#busy.size,
      idle: this.#idle.length,
      queued: this.#queue.length,
      spawned: this.#spawned,
    };
  }

  /** Pids of the child processes that exist now (each is also its process group and session id). */
  get pids(): number[] {
    return [...this.#processes].flatMap((handle) => (handle.pid === undefined ? [] : [handle.pid]));
  }

  /**
   * Renews the host lease (option `hostLease`): every child, and every child spawned later, is gone
   * within `validForMs` from now unless the lease is renewed again meanwhile. Each child's watchdog
   * thread kills its tree a poll (`watchdogPollMs`) plus a few ms before that, on the machine's
   * monotonic clock, so a host that cannot renew (it is paused) has no child left once the time is up.
   *
   * @throws TypeError when the executor was created without `hostLease`.
   * @throws RangeError when `validForMs` is not a finite number.
   */
  renewHostLease(validForMs: number): void {
    if (!this.#options.hostLease) {
      throw new TypeError('renewHostLease: this ProcessExecutor was created without the hostLease option');
    }
    if (typeof validForMs !== 'number' || !Number.isFinite(validForMs)) {
      throw new RangeError(`renewHostLease: validForMs must be a finite number, got ${validForMs}`);
    }
    this.#leaseDeadline = monotonicMs() + validForMs - this.#options.watchdogPollMs - LEASE_KILL_SLACK_MS;
    for (const handle of this.#processes) handle.renewLease(this.#leaseDeadline);
  }

  /**
   * Starts a task: in an idle process (`reuse`), in a new one, or, when `maxProcesses` exist
   * already, once one is free (the task waits in DEPLOYING). The input is serialized here, so a
   * value that cannot be copied fails the task before any process is taken.
   *
   * @param spec - The task; `spec.invokable` must be a `{ module, export? }` reference.
   * @returns The execution; it reports `started` through `spec.report` once the child has imported
   * the module, and its outcome once the child (and its process tree) is gone.
   * @throws ExecutorClosedError after {@link close}.
   * @throws InvalidInvokableError when the invokable is not a module reference.
   * @throws SerializationError (`what: 'input'`) when the input cannot be cloned or is larger than
   * `maxMessageBytes`.
   *
   * @example
   * ```ts
   * // Without a runtime (tests): launchDirectly from @taskwarden/sdk/testing builds the spec.
   * const run = launchDirectly(executor, { invokable: { module: '/abs/work.js' }, input: 21 });
   * console.log(await run.result);
   * ```
   */
  launch(spec: LaunchSpec): Execution {
    if (this.#closing) throw new ExecutorClosedError(this.name);
    const ref = spec.invokable;
    if (!isModuleReference(ref)) {
      throw new InvalidInvokableError(
        `executor '${this.name}' runs tasks in a child process: the invokable must be { module, export? }`,
      );
    }
    if (this.#startupLine) this.#logStartup(spec.logger);
    const id = this.#nextId++;
    let runFrame: Buffer;
    try {
      runFrame = encodeFrame(
        {
          type: 'run',
          id,
          task: spec.task,
          module: ref.module,
          export: ref.export,
          input: spec.input,
          logLevel: spec.logger.level,
        },
        this.#options.maxMessageBytes,
      );
    } catch (error) {
      throw new SerializationError('input', { cause: error });
    }
    const execution = new ProcessExecution(spec, id, runFrame, this.#executionHost);
    this.#queue.push(execution);
    this.#pump();
    return execution;
  }

  /** Drops the job's queued tasks; its running tasks are stopped by their cancellation ladders. */
  async cancelJob(jobId: string): Promise<void> {
    for (const execution of [...this.#queue]) {
      if (execution.spec.task.jobId === jobId) {
        execution.dropQueued(new TaskCancelledError(execution.spec.task.executionId));
      }
    }
  }

  /**
   * Drops queued tasks, hard-stops running ones (SIGTERM, SIGKILL after `killGraceMs`), stops idle
   * processes, and resolves once every child's tree is gone and its cgroup removed. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const closed = new ExecutorClosedError(this.name);
    for (const execution of this.#queue.splice(0)) execution.dropQueued(closed);
    for (const handle of this.#idle.splice(0)) handle.destroy();
    for (const execution of this.#busy.values()) {
      execution.cancel(closed);
      try {
        void execution.kill().catch(() => undefined);
      } catch {
        execution.handle?.destroy();
      }
    }
    for (const handle of this.#processes) {
      if (!this.#busy.has(handle)) handle.destroy();
    }
    this.#closing = Promise.all([...this.#processes].map((handle) => handle.gone)).then(() => undefined);
    return this.#closing;
  }

  #pump(): void {
    while (this.#queue.length > 0 && !this.#closing) {
      let handle = this.#takeIdle();
      if (handle) {
        handle.unpark();
      } else if (this.#processes.size >= this.#options.maxProcesses) {
        return;
      }
      const execution = this.#queue.shift() as ProcessExecution;
      if (!handle) {
        try {
          handle = this.#spawn();
        } catch (error) {
          execution.failToLaunch(toError(error));
          continue;
        }
      }
      this.#busy.set(handle, execution);
      execution.assign(handle);
    }
  }

  /** The most recently used idle process that can still take work. */
  #takeIdle(): ChildProcessHandle | undefined {
    for (let handle = this.#idle.pop(); handle; handle = this.#idle.pop()) {
      if (handle.usable) return handle;
      // Unusable handles leave the pool when they become so; this is only a second line of defence.
      handle.destroy();
    }
    return undefined;
  }

  #removeIdle(handle: ChildProcessHandle): void {
    const index = this.#idle.indexOf(handle);
    if (index !== -1) this.#idle.splice(index, 1);
  }

  #spawn(): ChildProcessHandle {
    const handle: ChildProcessHandle = new ChildProcessHandle(this.#handleOptions, {
      // Dead or dying (it exited, broke the protocol, is being stopped): out of the idle pool at once,
      // although it counts against maxProcesses until its tree is gone.
      onUnusable: () => this.#removeIdle(handle),
      onGone: () => {
        this.#processes.delete(handle);
        this.#busy.delete(handle);
        this.#removeIdle(handle);
        // The capacity is free now; waiting tasks start after the caller has settled its task.
        queueMicrotask(() => this.#pump());
      },
    });
    this.#spawned += 1;
    this.#processes.add(handle);
    return handle;
  }

  #logStartup(logger: Logger): void {
    const line = this.#startupLine;
    this.#startupLine = undefined;
    if (line) logSafely(logger, 'info', line.fields, line.message);
  }

  #dequeue(execution: ProcessExecution): boolean {
    const index = this.#queue.indexOf(execution);
    if (index === -1) return false;
    this.#queue.splice(index, 1);
    return true;
  }

  #release(handle: ChildProcessHandle, reusable: boolean): boolean {
    this.#busy.delete(handle);
    if (!reusable || !this.#options.reuse || this.#closing || !handle.usable) {
      handle.destroy();
      return false;
    }
    this.#idle.push(handle);
    handle.park(this.#options.idleTimeoutMs, () => {
      this.#removeIdle(handle);
      handle.destroy();
    });
    // A waiting task takes it right away (after the caller has settled its own result).
    queueMicrotask(() => this.#pump());
    return true;
  }
}

function resolveOptions(options: ProcessExecutorOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('ProcessExecutor options must be an object');
  }
  const unknown = Object.keys(options).filter((key) => !OPTION_KEYS.has(key));
  if (unknown.length > 0) {
    throw new TypeError(
      `ProcessExecutor: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ` +
        `(known: ${[...OPTION_KEYS].join(', ')})`,
    );
  }
  const maxProcesses = integerOption(options.maxProcesses, 'maxProcesses', 1, availableParallelism());
  const killGraceMs = numberOption(options.killGraceMs, 'killGraceMs', 0, DEFAULT_KILL_GRACE_MS);
  const idleTimeoutMs = numberOption(options.idleTimeoutMs, 'idleTimeoutMs', 0, 30_000, true);
  const maxLogLineBytes = integerOption(options.maxLogLineBytes, 'maxLogLineBytes', 64, 16_384);
  const watchdogPollMs = integerOption(options.watchdogPollMs, 'watchdogPollMs', 10, 100, MAX_TIMER_MS);
  const diagnoseTimeoutMs = numberOption(options.diagnoseTimeoutMs, 'diagnoseTimeoutMs', 1, 1_500);
  const maxMessageBytes = integerOption(
    options.maxMessageBytes,
    'maxMessageBytes',
    MIN_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    MAX_MAX_MESSAGE_BYTES,
  );
  // The hard-stop bound (killGraceMs + the margin) must itself be a timer delay the runtime accepts.
  if (killGraceMs > MAX_TIMER_MS - HARD_STOP_MARGIN_MS) {
    throw new RangeError(`options.killGraceMs must be at most 2^31-1 ms minus ${HARD_STOP_MARGIN_MS}`);
  }
  const treeKill = checkTreeKillOption(options.treeKill, 'options.treeKill');
  if (
    options.logger !== undefined &&
    (typeof options.logger !== 'object' ||
      options.logger === null ||
      typeof options.logger.info !== 'function')
  ) {
    throw new TypeError('options.logger must be a pino logger');
  }
  if (diagnoseTimeoutMs > MAX_TIMER_MS) {
    throw new RangeError(`options.diagnoseTimeoutMs must be at most 2^31-1 ms, got ${diagnoseTimeoutMs}`);
  }

  const execArgv = options.execArgv ?? [];
  if (!Array.isArray(execArgv) || execArgv.some((arg) => typeof arg !== 'string')) {
    throw new TypeError('options.execArgv must be an array of strings');
  }
  if (options.env !== undefined && (typeof options.env !== 'object' || options.env === null)) {
    throw new TypeError('options.env must be an object');
  }
  if (options.cwd !== undefined && (typeof options.cwd !== 'string' || options.cwd.length === 0)) {
    throw new TypeError('options.cwd must be a non-empty string');
  }
  if (options.reuse !== undefined && typeof options.reuse !== 'boolean') {
    throw new TypeError('options.reuse must be a boolean');
  }
  if (options.hostLease !== undefined && typeof options.hostLease !== 'boolean') {
    throw new TypeError('options.hostLease must be a boolean');
  }
  if (options.spawn !== undefined && typeof options.spawn !== 'function') {
    throw new TypeError('options.spawn must be a function like child_process.spawn');
  }
  if (options.kill !== undefined && typeof options.kill !== 'function') {
    throw new TypeError('options.kill must be a function like process.kill');
  }
  return {
    treeKill,
    logger: options.logger,
    maxProcesses,
    killGraceMs,
    reuse: options.reuse ?? false,
    // A timer cannot wait longer than 2^31-1 ms (it would fire after 1 ms): that long is "never".
    idleTimeoutMs: idleTimeoutMs > MAX_TIMER_MS ? Number.POSITIVE_INFINITY : idleTimeoutMs,
    diagnoseTimeoutMs,
    maxMessageBytes,
    hostLease: options.hostLease ?? false,
    watchdogPollMs,
    handle: {
      spawn: options.spawn ?? nodeSpawn,
      kill: options.kill ?? ((pid, signal) => process.kill(pid, signal)),
      execArgv: [...execArgv],
      env: options.env,
      cwd: options.cwd,
      maxLogLineBytes,
      watchdogPollMs,
      pauseTimeoutMs: Math.max(1, Math.floor(diagnoseTimeoutMs * 0.66)),
      maxMessageBytes,
    },
  };
}

function numberOption(value: unknown, name: string, min: number, fallback: number, infinite = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`options.${name} must be a number, got ${typeof value}`);
  }
  if (value < min || (!infinite && !Number.isFinite(value))) {
    throw new RangeError(`options.${name} must be a finite number >= ${min}, got ${value}`);
  }
  return value;
}

function integerOption(
  value: unknown,
  name: string,
  min: number,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`options.${name} must be a number, got ${typeof value}`);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `options.${name} must be an integer >= ${min}${max < Number.MAX_SAFE_INTEGER ? ` and <= ${max}` : ''}, got ${value}`,
    );
  }
  return value;
}
