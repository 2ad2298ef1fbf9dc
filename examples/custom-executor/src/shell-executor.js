// A complete third-party executor in one file. It runs shell scripts, each as the leader of its own
// process group, so the cancellation ladder reaches the script and everything it started.
// The SPI it implements (`Executor`, `Execution`) and its helper (`BaseExecution`) come from
// @taskwarden/sdk; see ../README.md.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import {
  BaseExecution,
  ErrorCode,
  ExecutorClosedError,
  InvalidInvokableError,
  nameErrorClass,
  SerializationError,
  TaskCancelledError,
  TaskwardenError,
} from '@taskwarden/sdk';

/** A script exited non-zero (or died of a signal) without reporting a structured error. */
export class ShellScriptError extends TaskwardenError {
  static {
    // An explicit name (the class name would do too, until a bundler renames the class).
    nameErrorClass(ShellScriptError, 'ShellScriptError');
  }

  /** @param {{ script: string, exitCode: number | null, signal: string | null, stderrTail: string }} info */
  constructor({ script, exitCode, signal, stderrTail }) {
    const how = signal ? `was killed by ${signal}` : `exited with code ${exitCode}`;
    const lastLine = stderrTail.trimEnd().split('\n').pop();
    super(ErrorCode.PROCESS_EXITED, `script ${script} ${how}${lastLine ? `: ${lastLine}` : ''}`);
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderrTail = stderrTail;
  }
}

const ignore = () => undefined;

/** Signals a whole process group; a group that is already gone is not an error. */
function signalGroup(/** @type {number} */ pgid, /** @type {NodeJS.Signals} */ signal) {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code !== 'ESRCH') throw error;
  }
}

/** Our environment, the task's ids, and flat input fields as `TW_INPUT_<KEY>` (no jq needed). */
function scriptEnv(/** @type {import('@taskwarden/sdk').LaunchSpec} */ { task, input }) {
  /** @type {Record<string, string | undefined>} */
  const env = { ...process.env, TW_EXECUTION_ID: task.executionId, TW_TASK_NAME: task.name };
  for (const [key, value] of Object.entries(typeof input === 'object' && input !== null ? input : {})) {
    // Only names a shell can read; everything (nested values too) is in the JSON on stdin as well.
    if (/^[A-Za-z_]\w*$/.test(key) && ['string', 'number', 'boolean'].includes(typeof value)) {
      env[`TW_INPUT_${key.toUpperCase()}`] = String(value);
    }
  }
  return env;
}

/** A script reports a structured failure as its last stdout line: `{"error":{"name",...}}`. */
function reportedError(/** @type {string} */ stdout, /** @type {string} */ script) {
  try {
    const { error } = JSON.parse(stdout.trimEnd().split('\n').pop() ?? '');
    if (typeof error !== 'object' || error === null) return undefined;
    const { name = 'Error', message = '', ...fields } = error; // code, detail, ...: kept as fields
    const rebuilt = Object.assign(new Error(String(message)), fields, { name: String(name) });
    // The error happened in the script, not here: a stack into this file would mislead.
    rebuilt.stack = `${rebuilt.name}: ${rebuilt.message}\n    at ${script}`;
    return rebuilt;
  } catch {
    return undefined; // not JSON: the caller reports the exit status instead
  }
}

/**
 * One task: queued, then one `sh` process. `BaseExecution` (from the SDK) does the bookkeeping: it
 * reports to the runtime through `spec.report` exactly once per fact, makes `cancel()` idempotent
 * (our `onCancel` runs once, never after the outcome) and offers `started`/`result` promises.
 */
class ShellExecution extends BaseExecution {
  /** @type {import('node:child_process').ChildProcess | undefined} */ #child;
  /** @type {Error | undefined} why kill() was called */ #killReason;
  /** @type {(execution: ShellExecution) => void} */ #onEnd;

  /**
   * @param {import('@taskwarden/sdk').LaunchSpec} spec
   * @param {string} stdin the input as JSON
   * @param {(execution: ShellExecution) => void} onEnd frees the executor's capacity
   */
  constructor(spec, stdin, onEnd) {
    super(spec);
    this.stdin = stdin;
    this.#onEnd = onEnd;
  }

  get queued() {
    return !this.#child && !this.settled;
  }

  /** Called by the executor when there is room under `maxConcurrent`. */
  start(/** @type {string} */ shell) {
    const script = /** @type {{ module: string }} */ (this.spec.invokable).module;
    let child;
    try {
      // detached: the script leads a new process group (pgid = pid), so a signal to -pid reaches
      // the script and all it started, and never the host's own group.
      child = spawn(shell, [script], { detached: true, env: scriptEnv(this.spec), stdio: 'pipe' });
    } catch (error) {
      return this.#end(/** @type {Error} */ (error)); // this task fails; the executor goes on
    }
    this.#child = child;
    let stdout = '';
    let stderrTail = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderrTail = (stderrTail + chunk).slice(-4096)));
    child.stdin.on('error', ignore); // EPIPE: the script did not read its input; that is its business
    child.stdin.end(this.stdin);
    // No restore phase for scripts: RUNNING starts with the process (running implies started).
    child.on('spawn', () => this.markRunning());
    // 'error' without a pid: the shell could not be started at all (ENOENT, EAGAIN, ...).
    child.on('error', (error) => child.pid === undefined && this.#end(error));
    child.on('exit', () => {
      // The script is the work: what it left running in its group would be an orphan.
      // (Never throw from an event handler: that would crash the host.)
      try {
        signalGroup(/** @type {number} */ (child.pid), 'SIGKILL');
      } catch {}
    });
    // 'close', not 'exit': stdout is complete only once every process holding the pipe is gone.
    // Reporting the outcome only now is what makes `task.done` mean "the work has stopped".
    child.on('close', (exitCode, signal) => {
      const stopped = this.#killReason ?? this.cancelReason;
      if (stopped && signal === 'SIGKILL') return this.#end(stopped); // kill() stopped it
      if (exitCode !== 0) {
        const error = reportedError(stdout, script);
        return this.#end(error ?? new ShellScriptError({ script, exitCode, signal, stderrTail }));
      }
      try {
        this.#end(undefined, stdout.trim() === '' ? undefined : JSON.parse(stdout));
      } catch (cause) {
        this.#end(new SerializationError('result', { cause }));
      }
    });
  }

  /** Graceful stop: SIGTERM to the group. A script's `trap '...' TERM` is its cancel hook. */
  onCancel(/** @type {Error} */ reason) {
    // BaseExecution calls this once and logs what it throws; if the signal cannot be sent, the hard
    // stop after gracePeriodMs (or the watchdog) still ends the task.
    if (this.queued) return this.#end(reason); // never spawned, so the script never runs
    if (this.#child?.pid) signalGroup(this.#child.pid, 'SIGTERM');
  }

  /** Hard stop: SIGKILL to the group; resolves once the process has exited and the outcome is reported. */
  kill() {
    if (this.settled) return Promise.resolve();
    this.#killReason ??= this.cancelReason ?? new TaskCancelledError(this.spec.task.executionId);
    if (this.queued) {
      this.#end(this.#killReason);
      return Promise.resolve();
    }
    // Throws (EPERM) only when the stop cannot even start; the runtime then escalates at once
    // instead of at its watchdog. That is why kill() is not `async`: the throw stays synchronous.
    if (this.#child?.pid) signalGroup(this.#child.pid, 'SIGKILL');
    return this.result.then(ignore, ignore);
  }

  /** Frees the capacity first (so it is free by the time `task.done` resolves), then reports, once. */
  #end(/** @type {Error | undefined} */ error, /** @type {unknown} */ value = undefined) {
    if (this.settled) return;
    this.#onEnd(this);
    if (error) this.reject(error);
    else this.resolve(value);
  }
}

/**
 * Runs `{ module: '/abs/path/script.sh' }` with `/bin/sh`: input as JSON on stdin (flat fields also
 * as `TW_INPUT_*`), result as JSON on stdout. Cancel sends SIGTERM, kill SIGKILL, to the whole group.
 * Implements `Executor`.
 */
export class ShellExecutor {
  name = 'shell';
  // hardStop: kill() ends work that ignores cancel(). No diagnose(): a shell has no stack to show.
  capabilities = Object.freeze({ hardStop: true, diagnostics: false, isolation: 'process' });
  /** @type {ShellExecution[]} */ #queue = [];
  /** @type {Set<ShellExecution>} */ #running = new Set();
  #closed = false;

  /** @param {{ maxConcurrent?: number, shell?: string }} [options] */
  constructor({ maxConcurrent = availableParallelism(), shell = '/bin/sh' } = {}) {
    // Bad options fail here, naming the option, not later inside some task.
    if (typeof maxConcurrent !== 'number') throw new TypeError('options.maxConcurrent must be a number');
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new RangeError(`options.maxConcurrent must be an integer >= 1, got ${maxConcurrent}`);
    }
    if (typeof shell !== 'string' || !shell) throw new TypeError('options.shell must be a non-empty string');
    this.maxConcurrent = maxConcurrent;
    this.shell = shell;
  }

  /** Scripts started and not yet exited (0 after `close()`; the conformance suite checks it). */
  get liveProcesses() {
    return this.#running.size;
  }

  /** @param {import('@taskwarden/sdk').LaunchSpec} spec */
  launch(spec) {
    // Throwing here fails the task in DEPLOYING: refuse what can never run before queueing it.
    if (this.#closed) throw new ExecutorClosedError(this.name);
    const ref = /** @type {{ module?: unknown, export?: unknown }} */ (spec.invokable);
    if (typeof ref.module !== 'string' || !isAbsolute(ref.module)) {
      throw new InvalidInvokableError('ShellExecutor needs { module: <absolute path of a script> }');
    }
    if (ref.export !== undefined && ref.export !== 'default') {
      throw new InvalidInvokableError(`a shell script has no export '${ref.export}' (${ref.module})`);
    }
    let stdin;
    try {
      stdin = JSON.stringify(spec.input) ?? ''; // undefined: empty stdin
    } catch (cause) {
      throw new SerializationError('input', { cause }); // a BigInt, a cycle: fail now, not in the script
    }
    const execution = new ShellExecution(spec, stdin, (ended) => {
      this.#running.delete(ended);
      this.#queue = this.#queue.filter((queued) => queued !== ended);
      // The next script starts after this one reported (a microtask later), not inside its report.
      queueMicrotask(() => this.#pump());
    });
    this.#queue.push(execution);
    this.#pump();
    return execution;
  }

  /** FIFO: tasks beyond `maxConcurrent` wait in the queue (still DEPLOYING) until a script exits. */
  #pump() {
    while (!this.#closed && this.#running.size < this.maxConcurrent && this.#queue.length > 0) {
      const next = /** @type {ShellExecution} */ (this.#queue.shift());
      if (!next.queued) continue; // cancelled while it waited
      this.#running.add(next);
      next.start(this.shell);
    }
  }

  /** Drops the job's queued tasks; running ones are stopped by their own cancellation ladder. */
  async cancelJob(/** @type {string} */ jobId) {
    for (const execution of this.#queue.filter((queued) => queued.spec.task.jobId === jobId)) {
      execution.cancel(new TaskCancelledError(execution.spec.task.executionId));
    }
  }

  /** Rejects queued tasks, SIGKILLs running scripts, and resolves once every one has exited. */
  async close() {
    this.#closed = true;
    for (const execution of this.#queue.splice(0)) execution.cancel(new ExecutorClosedError(this.name));
    await Promise.all([...this.#running].map((execution) => execution.kill()));
  }
}
