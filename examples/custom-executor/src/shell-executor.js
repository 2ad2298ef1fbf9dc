// A complete third-party executor in one file. It runs shell scripts, each as the leader of its own
// process group, so the cancellation ladder reaches the script and everything it started.
// The SPI it implements (`Executor`, `Execution`) comes from @taskwarden/sdk; see ../README.md.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import {
  ErrorCode,
  ExecutorClosedError,
  InvalidInvokableError,
  SerializationError,
  TaskCancelledError,
  TaskwardenError,
} from '@taskwarden/sdk';

/** A script exited non-zero (or died of a signal) without reporting a structured error. */
export class ShellScriptError extends TaskwardenError {
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

/** A promise with its resolvers (`Promise.withResolvers` needs Node 22). */
function deferred() {
  /** @type {{ promise: Promise<any>, resolve: (value?: unknown) => void, reject: (error: Error) => void }} */
  const d = /** @type {any} */ ({});
  d.promise = new Promise((resolve, reject) => Object.assign(d, { resolve, reject }));
  return d;
}

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

/** One task: queued, then one `sh` process. Implements `Execution`. */
class ShellExecution {
  /** @type {import('node:child_process').ChildProcess | undefined} */ #child;
  /** @type {Error | undefined} why cancel() or kill() was called */ #reason;
  #done = false;
  #started = deferred();
  #result = deferred();
  /** Resolves once the process exists: the end of DEPLOYING. */
  started = this.#started.promise;
  /**
   * Settles exactly once, and only when the process has exited. The runtime frees the slot and
   * resolves `task.done` on it: settling earlier would report work as stopped that still runs.
   */
  result = this.#result.promise;

  /** @param {import('@taskwarden/sdk').LaunchSpec} spec @param {string} stdin the input as JSON */
  constructor(spec, stdin) {
    this.spec = spec;
    this.stdin = stdin;
    this.started.catch(ignore); // `result` carries the same failure; this one must not go unhandled
  }

  get queued() {
    return !this.#child && !this.#done;
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
      return this.#settle(/** @type {Error} */ (error)); // this task fails; the executor goes on
    }
    this.#child = child;
    let stdout = '';
    let stderrTail = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderrTail = (stderrTail + chunk).slice(-4096)));
    child.stdin.on('error', ignore); // EPIPE: the script did not read its input; that is its business
    child.stdin.end(this.stdin);
    child.on('spawn', () => {
      this.#started.resolve();
      this.spec.onRunning(); // no restore phase for scripts: RUNNING starts with the process
    });
    // 'error' without a pid: the shell could not be started at all (ENOENT, EAGAIN, ...).
    child.on('error', (error) => child.pid === undefined && this.#settle(error));
    child.on('exit', () => {
      // The script is the work: what it left running in its group would be an orphan.
      // (Never throw from an event handler: that would crash the host.)
      try {
        signalGroup(/** @type {number} */ (child.pid), 'SIGKILL');
      } catch {}
    });
    // 'close', not 'exit': stdout is complete only once every process holding the pipe is gone.
    child.on('close', (exitCode, signal) => {
      if (this.#reason && signal === 'SIGKILL') return this.#settle(this.#reason); // kill() stopped it
      if (exitCode !== 0) {
        const error = reportedError(stdout, script);
        return this.#settle(error ?? new ShellScriptError({ script, exitCode, signal, stderrTail }));
      }
      try {
        this.#settle(undefined, stdout.trim() === '' ? undefined : JSON.parse(stdout));
      } catch (cause) {
        this.#settle(new SerializationError('result', { cause }));
      }
    });
  }

  /** Graceful stop: SIGTERM to the group, once. A script's `trap '...' TERM` is its cancel hook. */
  cancel(/** @type {Error} */ reason) {
    // Never throws: the ladder calls this first and goes on regardless; if the signal cannot be
    // sent, the hard stop after gracePeriodMs (or the watchdog) still ends the task.
    if (this.#reason || this.#done) return;
    this.#reason = reason;
    if (this.queued) return this.#settle(reason); // never spawned, so the script never runs
    try {
      if (this.#child?.pid) signalGroup(this.#child.pid, 'SIGTERM');
    } catch (error) {
      this.spec.logger.warn({ err: error }, 'could not send SIGTERM to the script');
    }
  }

  /** Hard stop: SIGKILL to the group; resolves once the process has exited and `result` settled. */
  kill() {
    if (this.#done) return Promise.resolve();
    this.#reason ??= new TaskCancelledError(this.spec.task.executionId);
    if (this.queued) {
      this.#settle(this.#reason);
      return Promise.resolve();
    }
    // Throws (EPERM) only when the stop cannot even start; the runtime then escalates at once
    // instead of at its watchdog. That is why kill() is not `async`: the throw stays synchronous.
    if (this.#child?.pid) signalGroup(this.#child.pid, 'SIGKILL');
    return this.result.then(ignore, ignore);
  }

  /** Settles `started` and `result`, once; later calls (a 'close' after an 'error') do nothing. */
  #settle(/** @type {Error | undefined} */ error, /** @type {unknown} */ value = undefined) {
    if (this.#done) return;
    this.#done = true;
    if (error) {
      this.#started.reject(error); // a no-op once it has resolved
      this.#result.reject(error);
    } else {
      this.#started.resolve();
      this.#result.resolve(value);
    }
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
    const execution = new ShellExecution(spec, stdin);
    // Registered before the runtime's own handlers, so the capacity is free again by the time
    // `task.done` resolves.
    const release = () => {
      this.#running.delete(execution);
      this.#queue = this.#queue.filter((queued) => queued !== execution);
      this.#pump();
    };
    execution.result.then(release, release);
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
