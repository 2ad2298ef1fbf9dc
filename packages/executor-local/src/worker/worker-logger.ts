import { format } from 'node:util';
import type { Logger } from '@taskwarden/sdk';
import { serializeError } from '@taskwarden/sdk/internal';
import type { LevelName, LogMessage } from './protocol.js';
import { Kind, LEVEL_NAMES, LEVELS } from './protocol.js';

type Post = (message: LogMessage) => void;

/**
 * The logger a task sees inside a worker thread: the pino calling conventions (`info(obj, msg,
 * ...args)`, `info(msg, ...args)`, `info(err)`, `child(bindings)`, `isLevelEnabled`), with every
 * record posted to the host and written there through the task's own pino logger, so records keep
 * the host's bindings (`jobId`, `executionId`, `task`), destination and format.
 *
 * Records below the host logger's level are dropped in the worker and cost nothing to post.
 * Errors (`err` or a thrown value as the first argument) are serialized with their stack and code.
 */
class ForwardingLogger {
  readonly #post: Post;
  readonly #id: number;
  readonly #bindings: readonly Record<string, unknown>[];
  levelVal: number;

  constructor(post: Post, id: number, levelVal: number, bindings: readonly Record<string, unknown>[]) {
    this.#post = post;
    this.#id = id;
    this.levelVal = levelVal;
    this.#bindings = bindings;
  }

  get level(): string {
    return LEVEL_NAMES[this.levelVal] ?? 'silent';
  }

  set level(name: string) {
    this.levelVal =
      name === 'silent' ? Number.POSITIVE_INFINITY : (LEVELS[name as LevelName] ?? this.levelVal);
  }

  isLevelEnabled(name: string): boolean {
    const value = LEVELS[name as LevelName];
    return value !== undefined && value >= this.levelVal;
  }

  bindings(): Record<string, unknown> {
    return Object.assign({}, ...this.#bindings);
  }

  child(bindings: Record<string, unknown>): ForwardingLogger {
    return new ForwardingLogger(this.#post, this.#id, this.levelVal, [...this.#bindings, bindings]);
  }

  flush(): void {}

  trace(...args: unknown[]): void {
    this.#write(10, args);
  }
  debug(...args: unknown[]): void {
    this.#write(20, args);
  }
  info(...args: unknown[]): void {
    this.#write(30, args);
  }
  warn(...args: unknown[]): void {
    this.#write(40, args);
  }
  error(...args: unknown[]): void {
    this.#write(50, args);
  }
  fatal(...args: unknown[]): void {
    this.#write(60, args);
  }
  silent(): void {}

  #write(level: number, args: unknown[]): void {
    if (level < this.levelVal || args.length === 0) return;
    let obj: Record<string, unknown> | undefined;
    let rest = args;
    const first = args[0];
    if (first instanceof Error) {
      obj = { err: serializeError(first) };
      rest = args.slice(1);
      if (rest.length === 0) rest = [first.message];
    } else if (typeof first === 'object' && first !== null) {
      obj = { ...(first as Record<string, unknown>) };
      if (obj.err instanceof Error) obj.err = serializeError(obj.err);
      rest = args.slice(1);
    }
    const msg = rest.length === 0 ? undefined : format(...rest);
    try {
      this.#post([Kind.log, this.#id, level, this.#bindings, obj, msg]);
    } catch {
      // A field that cannot be copied must not break the task: keep the message, drop the fields.
      const dropped = { logFieldsDropped: 'a field of this record could not be copied' };
      this.#post([Kind.log, this.#id, level, [], dropped, msg]);
    }
  }
}

/** A pino-compatible logger that forwards to the host. @internal */
export function createForwardingLogger(post: Post, id: number, levelVal: number): Logger {
  return new ForwardingLogger(post, id, levelVal, []) as unknown as Logger;
}
