/**
 * One child process as the host sees it: spawning, the framed control pipe, stdout/stderr lines,
 * the diagnostics pipe, and the stop machinery for its whole process group.
 * @internal
 * @module
 */
import type { ChildProcess, spawn as nodeSpawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@taskwarden/sdk';
import { ProtocolError, toError } from '@taskwarden/sdk';
import type { RunnerConfig } from './child/child-runner.js';
import { ProcessSpawnError } from './errors.js';
import { LineSplitter, TailBuffer } from './line-splitter.js';
import type { KillFunction } from './process-group.js';
import { groupExists, hasLiveMember, isLiveProcess, signalGroup } from './process-group.js';
import type { ChildMessage, HostMessage } from './protocol.js';
import { checkChildMessage, encodeFrame, FrameDecoder } from './protocol.js';

/** The signature of `child_process.spawn`, injectable for fault-injection tests. */
export type SpawnFunction = typeof nodeSpawn;

/** The child runner as one CommonJS bundle (made by the build): see `child/child-runner.ts`. */
const RUNNER_PATH = fileURLToPath(new URL('./child/child-runner.cjs', import.meta.url));
const STDERR_TAIL_BYTES = 4096;
/** How long to wait for the pipes to drain once the group is gone (a stray holder may keep them open). */
const STDIO_DRAIN_MS = 100;
const GROUP_POLL_MAX_MS = 100;
const TASK_LOGGERS_KEPT = 4;
/** After this long, a group that still exists is checked for zombies-only membership. */
const ZOMBIE_SCAN_AFTER_MS = 10;
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
  /** The child and its group are gone; called before the attached sink hears of it. */
  onGone?(info: ChildGoneInfo): void;
}

/** Receives what a child says while it runs a task (log records are routed by the handle). @internal */
export interface ChildSink {
  /** A message of valid shape; if handling it throws (content the host cannot rebuild), that is a protocol error. */
  onMessage(message: Exclude<ChildMessage, { type: 'log' }>): void;
  onProtocolError(error: ProtocolError): void;
  /** The child and its whole group are gone (called if the sink is still attached then). */
  onGone(info: ChildGoneInfo): void;
}

/** How a child ended; `gone` resolves with it once the child and its whole group are gone. @internal */
export interface ChildGoneInfo {
  readonly pid: number | undefined;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: string;
  /** Set when the child never started. */
  readonly spawnError: ProcessSpawnError | undefined;
}

interface Stdio {
  readonly stdout: NodeJS.ReadableStream & { unref?(): void; ref?(): void; destroy(): void };
  readonly stderr: NodeJS.ReadableStream & { unref?(): void; ref?(): void; destroy(): void };
  readonly control: NodeJS.ReadWriteStream & { unref?(): void; ref?(): void; destroy(): void };
  readonly diagnostics: NodeJS.ReadWriteStream & { unref?(): void; ref?(): void; destroy(): void };
}

/** A child process leading its own process group. @internal */
export class ChildProcessHandle {
  /** The child's pid, which is also its process group id; undefined if spawning failed. */
  readonly pid: number | undefined;
  /** Resolves once the child has exited and no live process is left in its group. */
  readonly gone: Promise<ChildGoneInfo>;

  readonly #child: ChildProcess;
  readonly #kill: KillFunction;
  readonly #events: ChildProcessHandleEvents;
  readonly #stdio: Stdio | undefined;
  readonly #decoder: FrameDecoder;
  readonly #maxMessageBytes: number;
  readonly #stderrTail = new TailBuffer(STDERR_TAIL_BYTES);
  readonly #stdoutLines: LineSplitter;
  readonly #stderrLines: LineSplitter;
  #sink: ChildSink | undefined;
  /** The logger of the current or last task: stdout/stderr lines go there. */
  #logger: Logger | undefined;
  readonly #taskLoggers = new Map<number, Logger>();
  #resolveGone!: (info: ChildGoneInfo) => void;
  #exited = false;
  /** The poll loop found no live process left in the group: never signal `-pgid` again (it may be reused). */
  #groupGone = false;
  #isGone = false;
  /** A protocol violation or a stop was requested: never give this process another task. */
  #spoiled = false;
  #terminating = false;
  /** Pending while a hard stop's grace period runs: SIGKILL to the group when it fires. */
  #killTimer: NodeJS.Timeout | undefined;
  /** While the process idles (reuse): stops it after the idle timeout. */
  #idleTimer: NodeJS.Timeout | undefined;
  /** Why the child counts as not started although spawn() returned (no pipes to talk to it). */
  #launchError: ProcessSpawnError | undefined;
  #nextDiagnosticsId = 1;
  readonly #diagnosticsWaiters = new Map<number, (stack: string | undefined) => void>();
  #diagnosticsPartial = '';

  /**
   * Spawns the child; throws {@link ProcessSpawnError} when spawning fails synchronously. A spawn
   * that fails asynchronously (Node reports EAGAIN, EMFILE, ENFILE, ENOENT by an 'error' event on
   * the next tick) ends in `gone` with `spawnError` set.
   */
  constructor(options: ChildProcessHandleOptions, events: ChildProcessHandleEvents = {}) {
    this.#kill = options.kill;
    this.#events = events;
    this.#maxMessageBytes = options.maxMessageBytes;
    this.#decoder = new FrameDecoder(options.maxMessageBytes);
    this.gone = new Promise((resolve) => {
      this.#resolveGone = resolve;
    });
    const config: RunnerConfig = {
      hostPid: process.pid,
      watchdogPollMs: options.watchdogPollMs,
      pauseTimeoutMs: options.pauseTimeoutMs,
      maxMessageBytes: options.maxMessageBytes,
      ...(options.leaseDeadline ? { leaseDeadlineMs: options.leaseDeadline() } : {}),
    };
    let child: ChildProcess;
    try {
      child = options.spawn(process.execPath, [...options.execArgv, RUNNER_PATH, JSON.stringify(config)], {
        cwd: options.cwd,
        env: options.env,
        // Its own process group (and session): `-pid` then reaches every descendant that stays in it.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (error) {
      throw new ProcessSpawnError(error);
    }
    this.#child = child;
    // First, before anything else can throw: an 'error' nobody listens to would end the host.
    child.on('error', (error) => this.#onChildError(error));
    child.once('exit', (code, signal) => this.#onExit(code, signal));
    this.pid = child.pid;
    this.#stdoutLines = new LineSplitter(options.maxLogLineBytes, (line) =>
      this.#logger?.info({ stream: 'stdout', pid: this.pid }, line),
    );
    this.#stderrLines = new LineSplitter(options.maxLogLineBytes, (line) =>
      this.#logger?.warn({ stream: 'stderr', pid: this.pid }, line),
    );
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
    for (const stream of [stdio.stdout, stdio.stderr, stdio.control, stdio.diagnostics]) {
      stream.on('error', () => undefined); // EPIPE/ECONNRESET while the child dies; 'exit' tells the rest
    }
    stdio.stdout.on('data', (chunk: Buffer) => this.#stdoutLines.push(chunk));
    stdio.stderr.on('data', (chunk: Buffer) => {
      this.#stderrTail.push(chunk);
      this.#stderrLines.push(chunk);
    });
    stdio.control.on('data', (chunk: Buffer) => this.#onControlData(chunk));
    stdio.control.on('end', () => this.#onControlEnd());
    stdio.diagnostics.on('data', (chunk: Buffer) => this.#onDiagnosticsData(chunk));
  }

  /** True while the child can be given work. */
  get usable(): boolean {
    return !this.#spoiled && !this.#exited && !this.#terminating && this.pid !== undefined;
  }

  /** Routes the child's messages to `sink`, and its output lines and task `id`'s log records to `logger`. */
  attach(sink: ChildSink, logger: Logger, id: number): void {
    this.#sink = sink;
    this.#logger = logger;
    // Records may come late from code a task left running (reuse); keep the last few tasks' loggers.
    this.#taskLoggers.set(id, logger);
    if (this.#taskLoggers.size > TASK_LOGGERS_KEPT) {
      this.#taskLoggers.delete(this.#taskLoggers.keys().next().value as number);
    }
  }

  /** Stops routing messages (output lines still go to the last logger). */
  detach(): void {
    this.#sink = undefined;
  }

  /** Sends a message; throws what encoding throws (a value that cannot be cloned) before writing. */
  send(message: HostMessage): void {
    this.sendFrame(encodeFrame(message, this.#maxMessageBytes));
  }

  /** Sends an encoded frame (see `encodeFrame`). */
  sendFrame(frame: Buffer): void {
    if (!this.#stdio || this.#exited) return; // the exit settles whoever waits
    this.#stdio.control.write(frame);
  }

  /**
   * Hard stop: SIGTERM to the whole group now, SIGKILL to the group after `graceMs` (always, since a
   * JS handler can swallow SIGTERM). The grace period holds for every member of the group, also when
   * the leader dies of the SIGTERM at once. Idempotent. Throws when the signal cannot be sent for
   * any reason other than the group being gone already, or when the escalation timer cannot be armed.
   */
  terminate(graceMs: number): void {
    this.#spoil();
    if (this.#terminating || this.#groupGone || this.#isGone || this.pid === undefined) return;
    if (this.#exited) {
      // The child ended without a hard stop; its leftovers are being SIGKILLed already.
      this.#terminating = true;
      this.#sigkill();
      return;
    }
    const pgid = this.pid;
    this.ref();
    signalGroup(this.#kill, pgid, 'SIGTERM');
    this.#killTimer = setTimeout(() => {
      this.#killTimer = undefined;
      this.#sigkill();
    }, graceMs);
    this.#terminating = true;
  }

  /** SIGKILL to the whole group now (retiring an idle or finished process). Never throws. */
  destroy(): void {
    this.#spoil();
    this.#terminating = true;
    // No grace left for anyone: the poll loop may SIGKILL again from now on.
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#killTimer = undefined;
    this.ref(); // an idle process was unref'd; whoever awaits `gone` must not see the host exit first
    this.#sigkill();
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
    const stdio = this.#stdio;
    if (!stdio || this.#exited) return Promise.resolve(undefined);
    const id = this.#nextDiagnosticsId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#diagnosticsWaiters.delete(id);
        resolve(undefined);
      }, timeoutMs);
      timer.unref();
      this.#diagnosticsWaiters.set(id, (stack) => {
        clearTimeout(timer);
        resolve(stack);
      });
      stdio.diagnostics.write(`${JSON.stringify({ id })}\n`);
    });
  }

  /** Moves the child's host-lease deadline (monotonic ms); its watchdog kills the group once it passes. */
  renewLease(deadlineMs: number): void {
    const stdio = this.#stdio;
    if (!stdio || this.#exited) return;
    stdio.diagnostics.write(`${JSON.stringify({ lease: deadlineMs })}\n`);
  }

  #streams(): Array<{ ref?(): void; unref?(): void }> {
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

  #sigkill(): void {
    if (this.pid === undefined || this.#isGone || this.#groupGone) return;
    try {
      signalGroup(this.#kill, this.pid, 'SIGKILL');
    } catch {
      // The kill seam failing here leaves polling to notice whatever happens next.
    }
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
      const logger = this.#taskLoggers.get(checked.id) ?? this.#logger;
      if (logger) relogRecord(logger, checked.line, this.pid);
      return true;
    }
    if (this.#spoiled && this.#sink === undefined) return false;
    if (!this.#sink) {
      if (checked.type === 'uncaught') return true;
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
    return !this.#exited && !this.#isGone && !this.#terminating && this.pid !== undefined;
  }

  #protocolError(error: ProtocolError): void {
    this.#spoil();
    const sink = this.#sink;
    if (sink) sink.onProtocolError(error);
    else {
      this.#logger?.error({ err: error, pid: this.pid }, 'idle child process broke the protocol; killing it');
      this.destroy();
    }
  }

  #onDiagnosticsData(chunk: Buffer): void {
    this.#diagnosticsPartial += chunk.toString('utf8');
    if (this.#diagnosticsPartial.length > 1024 * 1024) this.#diagnosticsPartial = '';
    let newline = this.#diagnosticsPartial.indexOf('\n');
    while (newline !== -1) {
      const line = this.#diagnosticsPartial.slice(0, newline);
      this.#diagnosticsPartial = this.#diagnosticsPartial.slice(newline + 1);
      newline = this.#diagnosticsPartial.indexOf('\n');
      let reply: { id?: unknown; stack?: unknown; error?: unknown };
      try {
        reply = JSON.parse(line) as typeof reply;
      } catch {
        continue;
      }
      if (typeof reply.id !== 'number') continue;
      const waiter = this.#diagnosticsWaiters.get(reply.id);
      if (!waiter) continue;
      this.#diagnosticsWaiters.delete(reply.id);
      waiter(
        typeof reply.stack === 'string'
          ? reply.stack
          : `diagnostics unavailable: ${typeof reply.error === 'string' ? reply.error : 'no stack'}`,
      );
    }
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#exited) return;
    this.#exited = true;
    this.#spoil();
    // What the child left in its group lives on without it. During a hard stop it keeps the rest of
    // the grace period it was promised by the SIGTERM (the kill timer ends it); otherwise (a crash,
    // an exit, a stop by SIGKILL) it is an orphan to kill at once.
    if (this.#killTimer === undefined) this.#sigkill();
    void this.#awaitGroupGone().then(() => this.#finish(code, signal, undefined));
  }

  async #awaitGroupGone(): Promise<void> {
    const pgid = this.pid as number;
    const since = performance.now();
    let delay = 1;
    for (;;) {
      let exists: boolean;
      try {
        exists = groupExists(this.#kill, pgid);
      } catch {
        exists = true; // a failing kill seam: keep polling
      }
      if (!exists) break;
      // Only zombies left? Worth a /proc scan once a normal reaper would have been done.
      if (performance.now() - since >= ZOMBIE_SCAN_AFTER_MS && !(await hasLiveMember(pgid))) {
        // A member forked while the scan ran would have been missed: one last SIGKILL covers it.
        this.#sigkill();
        break;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, GROUP_POLL_MAX_MS);
      // A member may have been forked after the last signal; not while a hard stop's grace runs.
      if (this.#killTimer === undefined) this.#sigkill();
    }
    // From here on `-pgid` may name somebody else's group.
    this.#groupGone = true;
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#killTimer = undefined;
    await this.#drainStdio();
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
    const stdio = this.#stdio;
    if (!stdio) return;
    for (const stream of [stdio.stdout, stdio.stderr, stdio.control, stdio.diagnostics]) stream.destroy();
  }

  #finish(
    code: number | null,
    signal: NodeJS.Signals | null,
    spawnError: ProcessSpawnError | undefined,
  ): void {
    if (this.#isGone) return;
    this.#isGone = true;
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#killTimer = undefined;
    this.#clearIdleTimer();
    this.#stdoutLines.end();
    this.#stderrLines.end();
    for (const waiter of this.#diagnosticsWaiters.values()) waiter(undefined);
    this.#diagnosticsWaiters.clear();
    const info: ChildGoneInfo = {
      pid: this.pid,
      exitCode: code,
      signal,
      stderrTail: this.#stderrTail.toString(),
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Re-logs a pino record written in the child (one JSON line) through a host logger. @internal */
export function relogRecord(logger: Logger, line: string, pid: number | undefined): void {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    record = undefined;
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    logger.info({ stream: 'log', pid }, line);
    return;
  }
  const { level, msg, ...fields } = record as Record<string, unknown>;
  logger[levelMethod(level)](fields, typeof msg === 'string' ? msg : '');
}

type LevelMethod = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

function levelMethod(level: unknown): LevelMethod {
  if (typeof level !== 'number') return 'info';
  if (level >= 60) return 'fatal';
  if (level >= 50) return 'error';
  if (level >= 40) return 'warn';
  if (level >= 30) return 'info';
  if (level >= 20) return 'debug';
  return 'trace';
}
