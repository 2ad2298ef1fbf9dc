/**
 * Where a child's output goes: stdout and stderr lines and the records its tasks write through
 * `ctx.logger`, each to the logger of the task it belongs to.
 * @internal
 * @module
 */
import type { Logger } from '@taskwarden/sdk';
import { logSafely } from '@taskwarden/sdk/internal';
import { LineSplitter, TailBuffer } from './line-splitter.js';

const STDERR_TAIL_BYTES = 4096;
/** Records may come late from code a task left running (reuse): the last few tasks' loggers are kept. */
const TASK_LOGGERS_KEPT = 4;

/**
 * Relays one child's output. stdout lines go to the current (or last) task's logger at `info`,
 * stderr lines at `warn`, both with `stream` and `pid` fields; `ctx.logger` records go to the logger
 * of the task that wrote them. The last 4 KiB of stderr are kept for the exit report.
 * @internal
 */
export class LogRelay {
  readonly #pid: number | undefined;
  readonly #stdoutLines: LineSplitter;
  readonly #stderrLines: LineSplitter;
  readonly #stderrTail = new TailBuffer(STDERR_TAIL_BYTES);
  readonly #taskLoggers = new Map<number, Logger>();
  /** The logger of the current or last task: output lines go there. */
  #logger: Logger | undefined;

  constructor(pid: number | undefined, maxLineBytes: number) {
    this.#pid = pid;
    this.#stdoutLines = new LineSplitter(maxLineBytes, (line) =>
      this.#logger?.info({ stream: 'stdout', pid }, line),
    );
    this.#stderrLines = new LineSplitter(maxLineBytes, (line) =>
      this.#logger?.warn({ stream: 'stderr', pid }, line),
    );
  }

  /** The logger of the current or last task, if any task ran. */
  get logger(): Logger | undefined {
    return this.#logger;
  }

  /** Task `id` runs now: its records and the output lines go to `logger`. */
  attach(id: number, logger: Logger): void {
    this.#logger = logger;
    this.#taskLoggers.set(id, logger);
    if (this.#taskLoggers.size > TASK_LOGGERS_KEPT) {
      this.#taskLoggers.delete(this.#taskLoggers.keys().next().value as number);
    }
  }

  stdout(chunk: Buffer): void {
    this.#stdoutLines.push(chunk);
  }

  stderr(chunk: Buffer): void {
    this.#stderrTail.push(chunk);
    this.#stderrLines.push(chunk);
  }

  /** A pino record (one JSON line) that task `id` wrote in the child. */
  record(id: number, line: string): void {
    const logger = this.#taskLoggers.get(id) ?? this.#logger;
    if (logger) relogRecord(logger, line, this.#pid);
  }

  /** The child is gone: emits the last lines without a newline. */
  end(): void {
    this.#stdoutLines.end();
    this.#stderrLines.end();
  }

  /** The last bytes (up to 4 KiB) the child wrote to stderr. */
  stderrTail(): string {
    return this.#stderrTail.toString();
  }
}

/** Re-logs a pino record written in the child (one JSON line) through a host logger. */
function relogRecord(logger: Logger, line: string, pid: number | undefined): void {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    record = undefined;
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    logSafely(logger, 'info', { stream: 'log', pid }, line);
    return;
  }
  const { level, msg, ...fields } = record as Record<string, unknown>;
  if (fields.err !== undefined) fields.err = reviveError(fields.err);
  logSafely(logger, levelMethod(level), fields, typeof msg === 'string' ? msg : '');
}

/**
 * The child's pino wrote `err` as `{ type, message, stack, ... }`. Re-logged as a plain object, the
 * host's pino would call its type `"Object"`; rebuilt as an error whose constructor has the original
 * name, it is serialized exactly as an error logged in the host (or a worker thread) would be.
 */
function reviveError(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const { type, message, stack, ...rest } = value as Record<string, unknown>;
  if (typeof message !== 'string') return value;
  const name = typeof type === 'string' && /^[A-Za-z_$][\w$]*$/.test(type) ? type : 'Error';
  const error = Object.assign(new Error(message), rest);
  // A function named after the original class: pino reads the type from `error.constructor.name`.
  const ctor = { [name]: () => {} }[name] as () => void;
  Object.defineProperty(error, 'constructor', { value: ctor, enumerable: false });
  Object.defineProperty(error, 'name', {
    value: name,
    enumerable: false,
    writable: true,
    configurable: true,
  });
  if (typeof stack === 'string') error.stack = stack;
  return error;
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
