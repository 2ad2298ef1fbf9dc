/**
 * One child process as the host sees it: spawning it (in its own process group, session, cgroup,
 * with its tree's cookie and the parent-death signal) and its pipes: the framed control pipe, whose
 * messages it routes to the running task. Output lines go through a {@link LogRelay}, stack
 * requests through a {@link DiagnosticsChannel}, and stopping the child's whole tree is the
 * {@link TreeReaper}'s.
 * @internal
 * @module
 */
import type { ChildProcess, spawn as nodeSpawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@taskwarden/sdk';
import { ProtocolError, toError } from '@taskwarden/sdk';
import type { ProcessTreeOptions } from '@taskwarden/sdk/internal';
import { errnoOf, logSafely, ProcessTree, removeCgroup, withTreeCookie } from '@taskwarden/sdk/internal';
import type { RunnerConfig } from './child/child-runner.js';
import { DiagnosticsChannel } from './diagnostics-channel.js';
import { ProcessSpawnError } from './errors.js';
import { LogRelay } from './log-relay.js';
import type { KillFunction } from './process-group.js';
import { isLiveProcess } from './process-group.js';
import type { ChildMessage, HostMessage } from './protocol.js';
import { checkChildMessage, encodeFrame, FrameDecoder } from './protocol.js';
import type { TreeKillPlan } from './tree-kill-plan.js';
import { TreeReaper } from './tree-reaper.js';

/** The signature of `child_process.spawn`, injectable for fault-injection tests. */
export type SpawnFunction = typeof nodeSpawn;

/** The child runner as one CommonJS bundle (made by the build): see `child/child-runner.ts`. */
const RUNNER_PATH = fileURLToPath(new URL('./child/child-runner.cjs', import.meta.url));
/** How long to wait for the pipes to drain once the tree is gone (a stray holder may keep them open). */
const STDIO_DRAIN_MS = 100;
/**
 * How long end-of-file on the control pipe waits for the child's 'exit' before the child's
 * liveness is checked: a child that exits closes the pipe too, and its end may be read first.
 */
const CONTROL_EOF_EXIT_WAIT_MS = 100;

/** Settings a handle needs from the executor. @internal */
export interface ChildProcessHandleOptions {
  readonly spawn: SpawnFunction;
  readonly kill: KillFunction;
  readonly execArgv: readonly string[];
  readonly env: NodeJS.ProcessEnv | undefined;
  readonly cwd: string | undefined;
  readonly maxLogLineBytes: number;
  readonly watchdogPollMs: number;
  readonly pauseTimeoutMs: number;
  /** The largest control message either side accepts. */
  readonly maxMessageBytes: number;
  /** How the child's tree is set up and killed. */
  readonly treeKill: TreeKillPlan;
  /** With a host lease: the deadline a new child starts with, in monotonic ms. */
  readonly leaseDeadline?: () => number;
}

/** What a handle tells its executor. @internal */
export interface ChildProcessHandleEvents {
  /**
   * The process can no longer be given work (it exited, broke the protocol, or is being stopped);
   * called once, synchronously, as soon as that is known, long before `onGone`.
   */
  onUnusable?(): void;
  /** The child and its tree are gone; called before the attached sink hears of it. */
  onGone?(info: ChildGoneInfo): void;
}

/** Receives what a child says while it runs a task (log records are routed by the handle). @internal */
export interface ChildSink {
  /** A message of valid shape; if handling it throws (content the host cannot rebuild), that is a protocol error. */
  onMessage(message: Exclude<ChildMessage, { type: 'log' }>): void;
  onProtocolError(error: ProtocolError): void;
  /** The child and its whole tree are gone (called if the sink is still attached then). */
  onGone(info: ChildGoneInfo): void;
}

/** How a child ended; `gone` resolves with it once the child and its whole tree are gone. @internal */
export interface ChildGoneInfo {
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: string;
  /** Set when the child never started. */
  readonly spawnError: ProcessSpawnError | undefined;
}

type Stream<T> = T & { unref?(): void; ref?(): void; destroy(): void };

interface Stdio {
  readonly stdout: Stream<NodeJS.ReadableStream>;
  readonly stderr: Stream<NodeJS.ReadableStream>;
  readonly control: Stream<NodeJS.ReadWriteStream>;
  readonly diagnostics: Stream<NodeJS.ReadWriteStream>;
}

/** A child process leading its own process group and session. @internal */
export class ChildProcessHandle {
  /** The child's pid, which is also its process group and session id; undefined if spawning failed. */
  readonly pid: number | undefined;
  /** Resolves once the child has exited and no live process of its tree is left. */
  readonly gone: Promise<ChildGoneInfo>;

  readonly #child: ChildProcess;
  readonly #events: ChildProcessHandleEvents;
  readonly #stdio: Stdio | undefined;
  readonly #decoder: FrameDecoder;
  readonly #maxMessageBytes: number;
  readonly #log: LogRelay;
  readonly #diagnostics: DiagnosticsChannel | undefined;
  /** Stops and reaps the child's tree; undefined when the child has no pid. */
  readonly #reaper: TreeReaper | undefined;
  readonly #treeOptions: ProcessTreeOptions;
  #tree: ProcessTree;
  #sink: ChildSink | undefined;
  #resolveGone!: (info: ChildGoneInfo) => void;
  #exited = false;
  #isGone = false;
  /** A protocol violation or a stop was requested: never give this process another task. */
  #spoiled = false;
  /** While the process idles (reuse): stops it after the idle timeout. */
  #idleTimer: NodeJS.Timeout | undefined;
  /** Why the child counts as not started although spawn() returned (no pipes to talk to it). */
  #launchError: ProcessSpawnError | undefined;
  /** Frames held back until the child is in its cgroup: no task code runs outside of it. */
  #held: Buffer[] | undefined;
  /** Why the child's tree is weaker than the executor's mode; logged once a task is attached. */
  #treeWarning: string | undefined;

  /**
   * Spawns the child; throws {@link ProcessSpawnError} when spawning fails synchronously. A spawn
   * that fails asynchronously (Node reports EAGAIN, EMFILE, ENFILE, ENOENT by an 'error' event on
   * the next tick) ends in `gone` with `spawnError` set.
   */
  constructor(options: ChildProcessHandleOptions, events: ChildProcessHandleEvents = {}) {
    this.#events = events;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#decoder = new FrameDecoder(options.maxMessageBytes);
    this.gone = new Promise((resolve) => {
      this.#resolveGone = resolve;
    });
    const setup = options.treeKill.prepare();
    this.#treeWarning = setup.degraded;
    const config: RunnerConfig = {
      hostPid: process.pid,
      watchdogPollMs: options.watchdogPollMs,
      pauseTimeoutMs: options.pauseTimeoutMs,
      maxMessageBytes: options.maxMessageBytes,
      tree: setup.own,
      ...(options.leaseDeadline ? { leaseDeadlineMs: options.leaseDeadline() } : {}),
    };
    const [command, args] = options.treeKill.command([
      ...options.execArgv,
      RUNNER_PATH,
      JSON.stringify(config),
    ]);
    const env =
      setup.cookie === undefined ? options.env : withTreeCookie(options.env ?? process.env, setup.cookie);
    const startedAt = performance.now();
    let child: ChildProcess;
    try {
      child = options.spawn(command, args, {
        cwd: options.cwd,
        env,
        // Its own process group and session: `-pid` then reaches every descendant that stays in
        // the group, and the session holds those that only leave the group.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (error) {
      if (setup.cgroup !== undefined) removeCgroup(setup.cgroup);
      throw new ProcessSpawnError(error);
    }
    this.#child = child;
    // First, before anything else can throw: an 'error' nobody listens to would end the host.
    child.on('error', (error) => this.#onChildError(error));
    child.once('exit', (code, signal) => this.#onExit(code, signal));
    this.pid = child.pid;
    this.#treeOptions = {
      mode: setup.own.mode,
      root: this.pid,
      cookie: setup.cookie,
      cgroup: setup.cgroup,
      startedAt,
      kill: options.kill,
    };
    this.#tree = new ProcessTree(this.#treeOptions);
    this.#reaper = this.pid === undefined ? undefined : new TreeReaper(this.pid, options.kill, this.#tree);
    this.#log = new LogRelay(this.pid, options.maxLogLineBytes);
    this.#stdio = stdioOf(child);

    const stdio = this.#stdio;
    if (!stdio) {
      // On EMFILE/ENFILE Node returns without any pipes; the errno follows in the 'error' event.
      // (Marked directly: the executor does not hold this handle yet, so it is not told.)
      this.#spoiled = true;
      if (this.pid === undefined) {
        // In case a seam returns a child that never reports why it has no pid.
        setImmediate(() => {
          if (this.#exited || this.#isGone) return;
          this.#exited = true;
          this.#finish(
            null,
            null,
            new ProcessSpawnError(new Error('spawn returned neither a pid nor pipes')),
          );
        });
      } else {
        // A process we cannot talk to: stop it and report the task as never started.
        this.#launchError = new ProcessSpawnError(new Error('the child process has no control pipes'));
        this.destroy();
      }
      return;
    }
    for (const stream of this.#streams()) {
      stream.on('error', () => undefined); // EPIPE/ECONNRESET while the child dies; 'exit' tells the rest
    }
    this.#diagnostics = new DiagnosticsChannel(stdio.diagnostics);
    stdio.stdout.on('data', (chunk: Buffer) => this.#log.stdout(chunk));
    stdio.stderr.on('data', (chunk: Buffer) => this.#log.stderr(chunk));
    stdio.control.on('data', (chunk: Buffer) => this.#onControlData(chunk));
    stdio.control.on('end', () => this.#onControlEnd());
    stdio.diagnostics.on('data', (chunk: Buffer) => this.#diagnostics?.receive(chunk));
    if (this.pid !== undefined && this.#tree.cgroup !== undefined) this.#placeInCgroup(this.pid);
  }

  /** True while the child can be given work. */
  get usable(): boolean {
    return !this.#spoiled && !this.#exited && !this.#reaper?.stopping && this.pid !== undefined;
  }

  /** Routes the child's messages to `sink`, and its output lines and task `id`'s log records to `logger`. */
  attach(sink: ChildSink, logger: Logger, id: number): void {
    this.#sink = sink;
    this.#log.attach(id, logger);
    const warning = this.#treeWarning;
    this.#treeWarning = undefined;
    if (warning !== undefined) this.#warnTree(warning);
  }

  /** Stops routing messages (output lines still go to the last logger). */
  detach(): void {
    this.#sink = undefined;
  }

  /** Sends a message; throws what encoding throws (a value that cannot be cloned) before writing. */
  send(message: HostMessage): void {
    this.sendFrame(encodeFrame(message, this.#maxMessageBytes));
  }

  /** Sends an encoded frame (see `encodeFrame`); held back while the child is moved to its cgroup. */
  sendFrame(frame: Buffer): void {
    if (!this.#stdio || this.#exited) return; // the exit settles whoever waits
    if (this.#held) this.#held.push(frame);
    else this.#stdio.control.write(frame);
  }

  /**
   * Hard stop of the whole tree: SIGTERM now, SIGKILL after `graceMs` (see {@link TreeReaper}).
   * Idempotent. Throws when the SIGTERM cannot be sent for any reason other than the group being
   * gone already, or when the escalation timer cannot be armed.
   */
  terminate(graceMs: number): void {
    this.#spoil();
    const reaper = this.#reaper;
    if (!reaper || this.#isGone || reaper.stopping) return;
    if (!this.#exited) this.ref();
    reaper.terminate(graceMs, this.#exited);
  }

  /** SIGKILL to the whole group now (retiring an idle or finished process). Never throws. */
  destroy(): void {
    this.#spoil();
    this.ref(); // an idle process was unref'd; whoever awaits `gone` must not see the host exit first
    this.#reaper?.killNow();
  }

  /**
   * Parks the process between tasks (reuse): lets the host exit, and calls `onTimeout` after
   * `timeoutMs` (never for `Infinity`). Taking it back with {@link unpark} cancels the timer; so does
   * the process becoming unusable.
   */
  park(timeoutMs: number, onTimeout: () => void): void {
    this.#clearIdleTimer();
    this.unref();
    if (!Number.isFinite(timeoutMs)) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      onTimeout();
    }, timeoutMs);
    this.#idleTimer.unref();
  }

  /** Takes a parked process back for a task. */
  unpark(): void {
    this.#clearIdleTimer();
    this.ref();
  }

  /** Keeps the host alive while the process works. */
  ref(): void {
    this.#child.ref();
    for (const stream of this.#streams()) stream.ref?.();
  }

  /** Lets the host exit while the process idles; the child then sees EOF and ends itself. */
  unref(): void {
    this.#child.unref();
    for (const stream of this.#streams()) stream.unref?.();
  }

  /**
   * The main thread's JavaScript stack, captured by the child's watchdog thread; undefined when the
   * child does not answer within `timeoutMs`.
   */
  requestStack(timeoutMs: number): Promise<string | undefined> {
    if (!this.#diagnostics || this.#exited) return Promise.resolve(undefined);
    return this.#diagnostics.requestStack(timeoutMs);
  }

  /** Moves the child's host-lease deadline (monotonic ms); its watchdog kills the tree once it passes. */
  renewLease(deadlineMs: number): void {
    if (!this.#diagnostics || this.#exited) return;
    this.#diagnostics.renewLease(deadlineMs);
  }

  /**
   * Moves the child into its cgroup before it is sent any task: frames wait meanwhile (the child
   * reads its first frame only once its runtime has started, tens of milliseconds later, so this
   * costs a task nothing). If the move fails, the child's tree is found by its cookie instead.
   */
  #placeInCgroup(pid: number): void {
    const held: Buffer[] = [];
    this.#held = held;
    this.#tree.place(pid).then(
      () => this.#release(held),
      (error: unknown) => {
        if (errnoOf(error) !== 'ESRCH') {
          this.#tree = new ProcessTree({ ...this.#treeOptions, mode: 'cookie' });
          if (this.#reaper) this.#reaper.tree = this.#tree;
          this.#warnTree(`cannot move it into its cgroup (${String(errnoOf(error) ?? error)})`);
        }
        this.#release(held);
      },
    );
  }

  #release(held: Buffer[]): void {
    if (this.#held !== held) return;
    this.#held = undefined;
    for (const frame of held) this.sendFrame(frame);
  }

  /** Logs why this child's tree is weaker than the executor's mode, once a task's logger is known. */
  #warnTree(reason: string): void {
    const logger = this.#log.logger;
    if (!logger) {
      this.#treeWarning = reason;
      return;
    }
    logSafely(logger, 'warn', { pid: this.pid }, `child process tree weaker than the executor's: ${reason}`);
  }

  #streams(): Array<Stream<NodeJS.EventEmitter>> {
    const stdio = this.#stdio;
    return stdio ? [stdio.stdout, stdio.stderr, stdio.control, stdio.diagnostics] : [];
  }

  #clearIdleTimer(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  /** Never give this process work again; tells the executor the first time. */
  #spoil(): void {
    if (this.#spoiled) return;
    this.#spoiled = true;
    this.#clearIdleTimer();
    this.#events.onUnusable?.();
  }

  #onChildError(error: Error): void {
    // Before 'spawn' this is an asynchronous spawn failure (EAGAIN, EMFILE, ENFILE, ENOENT): no exit
    // follows. Later ones (a failed signal through child.kill) are not ours to handle: 'exit' tells.
    if (this.#exited || this.#isGone || this.pid !== undefined) return;
    this.#exited = true;
    this.#spoil();
    this.#destroyStdio();
    this.#finish(null, null, new ProcessSpawnError(error));
  }

  #onControlData(chunk: Buffer): void {
    const { messages, error } = this.#decoder.push(chunk);
    // What arrived intact before a violation still counts (a result, a last log record).
    for (const message of messages) {
      if (!this.#dispatch(message)) return;
    }
    if (error) {
      this.#protocolError(new ProtocolError(`child ${this.pid} sent a malformed frame: ${error.message}`));
    }
  }

  /** Routes one decoded message; false once a protocol error ends the conversation. */
  #dispatch(message: unknown): boolean {
    const checked = checkChildMessage(message);
    if (typeof checked === 'string') {
      this.#protocolError(new ProtocolError(`child ${this.pid} sent a malformed message: ${checked}`));
      return false;
    }
    if (checked.type === 'log') {
      this.#log.record(checked.id, checked.line);
      return true;
    }
    if (this.#spoiled && this.#sink === undefined) return false;
    if (!this.#sink) {
      // Late words of a task that is over (reuse): its last report or why the child died.
      if (checked.type === 'uncaught' || checked.type === 'progress') return true;
      this.#protocolError(new ProtocolError(`child ${this.pid} sent '${checked.type}' while idle`));
      return false;
    }
    try {
      this.#sink.onMessage(checked);
    } catch (error) {
      // A message of the right shape whose content the host cannot use (an error that cannot be rebuilt).
      this.#protocolError(
        new ProtocolError(
          `child ${this.pid} sent an unreadable '${checked.type}': ${toError(error).message}`,
          {
            cause: error,
          },
        ),
      );
      return false;
    }
    return true;
  }

  /**
   * End-of-file on the control pipe. A child that exits closes it, so that is normal, whichever of
   * the pipe's end and the 'exit' event comes first. A child that lives on without its control pipe
   * (task code closed fd 3) can no longer report anything nor be told to stop: a protocol violation.
   * So: wait a moment for 'exit', then ask whether the child still runs (a zombie's 'exit' is due).
   */
  #onControlEnd(): void {
    if (!this.#eofMatters()) return;
    // Exiting or not, it can never be given another task.
    this.#spoil();
    // Not unref'd, even for an idle process: one that lives on must be killed before the host may
    // exit (with its control pipe closed it would never see the host go), and a task may be waiting
    // for its place.
    setTimeout(() => void this.#checkControlEnd(), CONTROL_EOF_EXIT_WAIT_MS);
  }

  async #checkControlEnd(): Promise<void> {
    if (!this.#eofMatters()) return;
    const alive = await isLiveProcess(this.pid as number).catch(() => true);
    if (!alive || !this.#eofMatters()) return; // dead: its 'exit' settles whoever waits
    this.#protocolError(new ProtocolError(`child ${this.pid} closed its control pipe while still running`));
  }

  /** False once the child has exited or is being stopped: the end of its pipe is expected then. */
  #eofMatters(): boolean {
    return !this.#exited && !this.#isGone && !this.#reaper?.stopping && this.pid !== undefined;
  }

  #protocolError(error: ProtocolError): void {
    this.#spoil();
    const sink = this.#sink;
    if (sink) sink.onProtocolError(error);
    else {
      const logger = this.#log.logger;
      if (logger) {
        logSafely(
          logger,
          'error',
          { err: error, pid: this.pid },
          'idle child process broke the protocol; killing it',
        );
      }
      this.destroy();
    }
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#exited) return;
    this.#exited = true;
    this.#spoil();
    const reaper = this.#reaper;
    if (!reaper) {
      this.#finish(code, signal, undefined);
      return;
    }
    void reaper
      .reap()
      .then(() => this.#drainStdio())
      .then(() => this.#finish(code, signal, undefined));
  }

  async #drainStdio(): Promise<void> {
    const stdio = this.#stdio;
    if (!stdio) return;
    const ended = (stream: NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean }) =>
      stream.readableEnded || stream.destroyed
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            stream.once('end', resolve);
            stream.once('close', resolve);
          });
    let timer: NodeJS.Timeout | undefined;
    // The control pipe too: a result or an uncaught error written just before the child died
    // may still be unread when 'exit' arrives.
    await Promise.race([
      Promise.all([ended(stdio.stdout), ended(stdio.stderr), ended(stdio.control)]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, STDIO_DRAIN_MS);
      }),
    ]);
    clearTimeout(timer);
    this.#destroyStdio();
  }

  #destroyStdio(): void {
    for (const stream of this.#streams()) stream.destroy();
  }

  #finish(
    code: number | null,
    signal: NodeJS.Signals | null,
    spawnError: ProcessSpawnError | undefined,
  ): void {
    if (this.#isGone) return;
    this.#isGone = true;
    this.#held = undefined;
    this.#clearIdleTimer();
    // The tree is gone (or never existed: a failed spawn); only its cgroup may be left to remove.
    this.#tree.remove();
    this.#log.end();
    this.#diagnostics?.close();
    const info: ChildGoneInfo = {
      pid: this.pid,
      exitCode: code,
      signal,
      stderrTail: this.#log.stderrTail(),
      spawnError: spawnError ?? this.#launchError,
    };
    // The executor's bookkeeping first, so a settled task never sees its process still counted.
    this.#events.onGone?.(info);
    const sink = this.#sink;
    this.#sink = undefined;
    sink?.onGone(info);
    this.#resolveGone(info);
  }
}

/** The child's pipes, or undefined when Node returned without them (EMFILE, ENFILE) or a seam gave fewer. */
function stdioOf(child: ChildProcess): Stdio | undefined {
  const streams = (child as { stdio?: unknown }).stdio;
  if (!Array.isArray(streams)) return undefined;
  const [, stdout, stderr, control, diagnostics] = streams as [
    unknown,
    Stdio['stdout'] | null | undefined,
    Stdio['stderr'] | null | undefined,
    Stdio['control'] | null | undefined,
    Stdio['diagnostics'] | null | undefined,
  ];
  return stdout && stderr && control && diagnostics ? { stdout, stderr, control, diagnostics } : undefined;
}
