/**
 * One child process as the host sees it: spawning, the framed control pipe, stdout/stderr lines,
 * the diagnostics pipe, and the stop machinery for its whole process group.
 * @internal
 * @module
 */
import type { ChildProcess, spawn as nodeSpawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@taskwarden/sdk';
import { ProtocolError } from '@taskwarden/sdk';
import type { RunnerConfig } from './child/child-runner.js';
import { ProcessSpawnError } from './errors.js';
import { LineSplitter, TailBuffer } from './line-splitter.js';
import type { KillFunction } from './process-group.js';
import { groupExists, hasLiveMember, signalGroup } from './process-group.js';
import type { ChildMessage, HostMessage } from './protocol.js';
import { checkChildMessage, encodeFrame, FrameDecoder } from './protocol.js';

/** The signature of `child_process.spawn`, injectable for fault-injection tests. */
export type SpawnFunction = typeof nodeSpawn;

const RUNNER_PATH = fileURLToPath(new URL('./child/child-runner.js', import.meta.url));
const STDERR_TAIL_BYTES = 4096;
/** How long to wait for the pipes to drain once the group is gone (a stray holder may keep them open). */
const STDIO_DRAIN_MS = 100;
const GROUP_POLL_MAX_MS = 100;
const TASK_LOGGERS_KEPT = 4;
/** After this long, a group that still exists is checked for zombies-only membership. */
const ZOMBIE_SCAN_AFTER_MS = 10;

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
}

/** Receives what a child says while it runs a task (log records are routed by the handle). @internal */
export interface ChildSink {
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
  /** Idle-timeout timer while the process waits for a task (reuse mode). */
  idleTimer: NodeJS.Timeout | undefined;

  readonly #child: ChildProcess;
  readonly #kill: KillFunction;
  readonly #onGone: ((info: ChildGoneInfo) => void) | undefined;
  readonly #stdio: Stdio | undefined;
  readonly #decoder = new FrameDecoder();
  readonly #stderrTail = new TailBuffer(STDERR_TAIL_BYTES);
  readonly #stdoutLines: LineSplitter;
  readonly #stderrLines: LineSplitter;
  #sink: ChildSink | undefined;
  /** The logger of the current or last task: stdout/stderr lines go there. */
  #logger: Logger | undefined;
  readonly #taskLoggers = new Map<number, Logger>();
  #resolveGone!: (info: ChildGoneInfo) => void;
  #exited = false;
  #isGone = false;
  /** A protocol violation or a stop was requested: never give this process another task. */
  #spoiled = false;
  #terminating = false;
  #killTimer: NodeJS.Timeout | undefined;
  #nextDiagnosticsId = 1;
  readonly #diagnosticsWaiters = new Map<number, (stack: string | undefined) => void>();
  #diagnosticsPartial = '';

  /**
   * Spawns the child; throws {@link ProcessSpawnError} when spawning fails synchronously. `onGone`
   * runs synchronously when the child and its group are gone, before the attached sink hears of it.
   */
  constructor(options: ChildProcessHandleOptions, onGone?: (info: ChildGoneInfo) => void) {
    this.#kill = options.kill;
    this.#onGone = onGone;
    this.gone = new Promise((resolve) => {
      this.#resolveGone = resolve;
    });
    const config: RunnerConfig = {
      hostPid: process.pid,
      watchdogPollMs: options.watchdogPollMs,
      pauseTimeoutMs: options.pauseTimeoutMs,
    };
    try {
      this.#child = options.spawn(
        process.execPath,
        [...options.execArgv, RUNNER_PATH, JSON.stringify(config)],
        {
          cwd: options.cwd,
          env: options.env,
          // Its own process group (and session): `-pid` then reaches every descendant that stays in it.
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
          windowsHide: true,
        },
      );
    } catch (error) {
      throw new ProcessSpawnError(error);
    }
    const child = this.#child;
    this.pid = child.pid;
    this.#stdoutLines = new LineSplitter(options.maxLogLineBytes, (line) =>
      this.#logger?.info({ stream: 'stdout', pid: this.pid }, line),
    );
    this.#stderrLines = new LineSplitter(options.maxLogLineBytes, (line) =>
      this.#logger?.warn({ stream: 'stderr', pid: this.pid }, line),
    );
    const [, stdout, stderr, control, diagnostics] = child.stdio as unknown as [
      unknown,
      Stdio['stdout'] | null,
      Stdio['stderr'] | null,
      Stdio['control'] | null,
      Stdio['diagnostics'] | null,
    ];
    this.#stdio =
      stdout && stderr && control && diagnostics ? { stdout, stderr, control, diagnostics } : undefined;

    child.on('error', (error) => {
      // Before 'spawn' this is an asynchronous spawn failure (EAGAIN, EMFILE, ENOENT): no exit follows.
      if (this.#exited || this.#isGone) return;
      if (this.pid === undefined) {
        this.#exited = true;
        this.#destroyStdio();
        this.#finish(null, null, new ProcessSpawnError(error));
      }
    });
    child.once('exit', (code, signal) => this.#onExit(code, signal));

    const stdio = this.#stdio;
    if (!stdio) return;
    for (const stream of [stdio.stdout, stdio.stderr, stdio.control, stdio.diagnostics]) {
      stream.on('error', () => undefined); // EPIPE/ECONNRESET while the child dies; 'exit' tells the rest
    }
    stdio.stdout.on('data', (chunk: Buffer) => this.#stdoutLines.push(chunk));
    stdio.stderr.on('data', (chunk: Buffer) => {
      this.#stderrTail.push(chunk);
      this.#stderrLines.push(chunk);
    });
    stdio.control.on('data', (chunk: Buffer) => this.#onControlData(chunk));
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
    const frame = encodeFrame(message);
    if (!this.#stdio || this.#exited) return; // the exit settles whoever waits
    this.#stdio.control.write(frame);
  }

  /**
   * Hard stop: SIGTERM to the whole group now, SIGKILL to the group after `graceMs` (always, since a
   * JS handler can swallow SIGTERM). Idempotent. Throws when the signal cannot be sent for any
   * reason other than the group being gone already, or when the escalation timer cannot be armed.
   */
  terminate(graceMs: number): void {
    this.#spoiled = true;
    if (this.#terminating || this.#isGone || this.pid === undefined) return;
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
    this.#spoiled = true;
    this.#terminating = true;
    this.ref(); // an idle process was unref'd; whoever awaits `gone` must not see the host exit first
    this.#sigkill();
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

  #streams(): Array<{ ref?(): void; unref?(): void }> {
    const stdio = this.#stdio;
    return stdio ? [stdio.stdout, stdio.stderr, stdio.control, stdio.diagnostics] : [];
  }

  #sigkill(): void {
    if (this.pid === undefined || this.#isGone) return;
    try {
      signalGroup(this.#kill, this.pid, 'SIGKILL');
    } catch {
      // The kill seam failing here leaves polling to notice whatever happens next.
    }
  }

  #onControlData(chunk: Buffer): void {
    let messages: unknown[];
    try {
      messages = this.#decoder.push(chunk);
    } catch (error) {
      this.#protocolError(
        new ProtocolError(`child ${this.pid} sent a malformed frame: ${(error as Error).message}`),
      );
      return;
    }
    for (const message of messages) {
      const checked = checkChildMessage(message);
      if (typeof checked === 'string') {
        this.#protocolError(new ProtocolError(`child ${this.pid} sent a malformed message: ${checked}`));
        return;
      }
      if (checked.type === 'log') {
        const logger = this.#taskLoggers.get(checked.id) ?? this.#logger;
        if (logger) relogRecord(logger, checked.line, this.pid);
        continue;
      }
      if (this.#spoiled && this.#sink === undefined) return;
      if (this.#sink) {
        this.#sink.onMessage(checked);
      } else if (checked.type !== 'uncaught') {
        this.#protocolError(new ProtocolError(`child ${this.pid} sent '${checked.type}' while idle`));
        return;
      }
    }
  }

  #protocolError(error: ProtocolError): void {
    this.#spoiled = true;
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
    this.#spoiled = true;
    // Whatever the child left in its group is now an orphan: stop it at once.
    this.#sigkill();
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
      if (performance.now() - since >= ZOMBIE_SCAN_AFTER_MS && !(await hasLiveMember(pgid))) break;
      await sleep(delay);
      delay = Math.min(delay * 2, GROUP_POLL_MAX_MS);
      this.#sigkill(); // a member may have been forked after the last signal
    }
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
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.#stdoutLines.end();
    this.#stderrLines.end();
    for (const waiter of this.#diagnosticsWaiters.values()) waiter(undefined);
    this.#diagnosticsWaiters.clear();
    const info: ChildGoneInfo = {
      pid: this.pid,
      exitCode: code,
      signal,
      stderrTail: this.#stderrTail.toString(),
      spawnError,
    };
    // The executor's bookkeeping first, so a settled task never sees its process still counted.
    this.#onGone?.(info);
    const sink = this.#sink;
    this.#sink = undefined;
    sink?.onGone(info);
    this.#resolveGone(info);
  }
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
