/**
 * The logger a task sees inside a worker thread (`ctx.logger`). Records are posted to the host and
 * written there through the task's own pino logger (see `log-relay.ts`), so they keep the host's
 * bindings, destination, serializers and format; records below the host logger's level are dropped
 * in the worker and cost nothing to post.
 *
 * It is pino's `Logger` as task code uses it: the level methods with pino's calling conventions
 * (`info(obj, msg, ...args)`, `info(msg, ...args)`, `info(err)`), `child(bindings, { level,
 * msgPrefix })`, `bindings()` (the host task logger's bindings and those added here),
 * `setBindings()`, `level` / `levelVal` / `levels` / `isLevelEnabled()`, the `'level-change'` event
 * (`on`, `once`, `off`... shared by the logger and its children, as pino's are), `flush(cb)`,
 * `msgPrefix`, `onChild`, `version`. What a worker cannot
 * have: custom levels (the host's logger decides the levels), and `useLevelLabels`, which is always
 * false. Serializers and redaction run on the host, where the record is written.
 *
 * Logging never throws into task code, whatever it is given (values whose getters or Proxy traps
 * throw, circular or uncopyable values): what cannot be read or copied is written as a description.
 * @internal
 * @module
 */
import { EventEmitter } from 'node:events';
import { format } from 'node:util';
import type { Logger } from '@taskwarden/sdk';
import type { SerializedError } from '@taskwarden/sdk/internal';
import { serializeError } from '@taskwarden/sdk/internal';
import type { LevelName, LoggerInfo, LogMessage } from './protocol.js';
import { Kind, LEVEL_NAMES, LEVELS } from './protocol.js';

type Post = (message: LogMessage) => void;
type CheckedMember =
  | LevelName
  | 'silent'
  | 'level'
  | 'levelVal'
  | 'levels'
  | 'isLevelEnabled'
  | 'bindings'
  | 'setBindings'
  | 'flush'
  | 'msgPrefix'
  | 'version'
  | 'useLevelLabels';
type Bindings = Record<string, unknown>;

const LEVEL_MAPPING = Object.freeze({ values: LEVELS, labels: LEVEL_NAMES });
const UNCOPYABLE_RECORD = { logFieldsDropped: 'the fields of this record could not be read' };

/** What a logger and its children share. */
interface Shared {
  readonly post: Post;
  readonly id: number;
  readonly version: string;
  /** The bindings of the host's task logger. */
  readonly root: Bindings;
  /**
   * The events of the logger and all its children: pino's children inherit their parent's
   * listeners, so a listener on the task's logger hears a child's level change too.
   */
  readonly events: EventEmitter;
}

type Listener = (...args: unknown[]) => void;
/** What `EventEmitter` hands back as a listener. */
type EventEmitterListener = ReturnType<EventEmitter['listeners']>[number];

class ForwardingLogger {
  readonly #shared: Shared;
  /** The bindings of `child()` calls up to this logger's parent, outermost first. */
  readonly #chain: readonly Bindings[];
  /** This logger's own bindings: those of its `child()` call, then of `setBindings()`. */
  #own: Bindings | undefined;
  #levelVal: number;
  readonly msgPrefix: string;
  /** Called with every child created from this logger (pino's `onChild`). */
  onChild: (child: ForwardingLogger) => void = () => undefined;
  /** pino's option to write the level as a label; records are written by the host's logger. */
  readonly useLevelLabels = false;

  constructor(
    shared: Shared,
    levelVal: number,
    chain: readonly Bindings[],
    own: Bindings | undefined,
    prefix: string,
  ) {
    this.#shared = shared;
    this.#levelVal = levelVal;
    this.#chain = chain;
    this.#own = own;
    this.msgPrefix = prefix;
  }

  on(event: string | symbol, listener: Listener): this {
    this.#shared.events.on(event, listener);
    return this;
  }
  addListener(event: string | symbol, listener: Listener): this {
    return this.on(event, listener);
  }
  once(event: string | symbol, listener: Listener): this {
    this.#shared.events.once(event, listener);
    return this;
  }
  prependListener(event: string | symbol, listener: Listener): this {
    this.#shared.events.prependListener(event, listener);
    return this;
  }
  prependOnceListener(event: string | symbol, listener: Listener): this {
    this.#shared.events.prependOnceListener(event, listener);
    return this;
  }
  off(event: string | symbol, listener: Listener): this {
    this.#shared.events.off(event, listener);
    return this;
  }
  removeListener(event: string | symbol, listener: Listener): this {
    return this.off(event, listener);
  }
  removeAllListeners(event?: string | symbol): this {
    this.#shared.events.removeAllListeners(event);
    return this;
  }
  setMaxListeners(n: number): this {
    this.#shared.events.setMaxListeners(n);
    return this;
  }
  getMaxListeners(): number {
    return this.#shared.events.getMaxListeners();
  }
  emit(event: string | symbol, ...args: unknown[]): boolean {
    return this.#shared.events.emit(event, ...args);
  }
  listeners(event: string | symbol): EventEmitterListener[] {
    return this.#shared.events.listeners(event);
  }
  rawListeners(event: string | symbol): EventEmitterListener[] {
    return this.#shared.events.rawListeners(event);
  }
  listenerCount(event: string | symbol, listener?: EventEmitterListener): number {
    return this.#shared.events.listenerCount(event, listener);
  }
  eventNames(): (string | symbol)[] {
    return this.#shared.events.eventNames();
  }

  /** The host pino's version. */
  get version(): string {
    return this.#shared.version;
  }

  get levels(): typeof LEVEL_MAPPING {
    return LEVEL_MAPPING;
  }

  get levelVal(): number {
    return this.#levelVal;
  }

  get level(): string {
    return LEVEL_NAMES[this.#levelVal] ?? 'silent';
  }

  /** Changes the level; emits `'level-change'` with pino's arguments. Throws on an unknown name, as pino does. */
  set level(name: string) {
    const value = name === 'silent' ? Number.POSITIVE_INFINITY : LEVELS[name as LevelName];
    if (value === undefined) throw new Error(`unknown level ${String(name)}`);
    const previous = this.#levelVal;
    this.#levelVal = value;
    this.emit('level-change', name, value, LEVEL_NAMES[previous] ?? 'silent', previous, this);
  }

  isLevelEnabled(name: string): boolean {
    const value = LEVELS[name as LevelName];
    return value !== undefined && value >= this.#levelVal;
  }

  bindings(): Bindings {
    const all: Bindings = { ...this.#shared.root };
    for (const bindings of this.#chain) Object.assign(all, bindings);
    return this.#own === undefined ? all : Object.assign(all, this.#own);
  }

  setBindings(bindings: Bindings): void {
    this.#own = { ...this.#own, ...copyable(bindings) };
  }

  child(bindings: Bindings, options?: { level?: string; msgPrefix?: string }): ForwardingLogger {
    const chain = this.#own === undefined ? this.#chain : [...this.#chain, this.#own];
    const prefix =
      typeof options?.msgPrefix === 'string' ? this.msgPrefix + options.msgPrefix : this.msgPrefix;
    const child = new ForwardingLogger(this.#shared, this.#levelVal, chain, copyable(bindings), prefix);
    if (typeof options?.level === 'string') child.level = options.level;
    try {
      this.onChild(child);
    } catch {
      // pino calls it unguarded; here a throwing callback must not break logging.
    }
    return child;
  }

  flush(callback?: (error?: Error) => void): void {
    callback?.();
  }

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
    if (level < this.#levelVal || args.length === 0) return;
    const chain = this.#own === undefined ? this.#chain : [...this.#chain, this.#own];
    const { post, id } = this.#shared;
    let record: LogRecord | undefined;
    try {
      record = toRecord(args, this.msgPrefix);
      post([Kind.log, id, level, chain, record.obj, record.msg, record.errType]);
      return;
    } catch {
      // A field that cannot be copied (or read): keep what can be.
    }
    try {
      const obj = record === undefined ? UNCOPYABLE_RECORD : copyable(record.obj);
      const msg = record === undefined ? safeString(args[0]) : record.msg;
      post([Kind.log, id, level, chain, obj, msg, record?.errType]);
    } catch {
      // Nothing else can fail; and logging must never break the task.
    }
  }
}

interface LogRecord {
  readonly obj: Bindings | undefined;
  readonly msg: string | undefined;
  readonly errType: string | undefined;
}

/** pino's calling conventions, turned into what is posted. Throws on values it cannot read. */
function toRecord(args: readonly unknown[], prefix: string): LogRecord {
  const first = args[0];
  let obj: Bindings | undefined;
  let errType: string | undefined;
  let rest: readonly unknown[] = args;
  if (isError(first)) {
    obj = { err: serializeError(first) };
    errType = typeName(first);
    rest = args.length > 1 ? args.slice(1) : [(obj.err as SerializedError).message];
  } else if (typeof first === 'object' && first !== null) {
    obj = { ...(first as Bindings) };
    if (isError(obj.err)) {
      errType = typeName(obj.err);
      obj.err = serializeError(obj.err);
    }
    rest = args.slice(1);
  }
  let msg: string | undefined;
  if (rest.length > 0) {
    try {
      msg = format(...rest);
    } catch {
      msg = rest.map(safeString).join(' ');
    }
  }
  if (msg !== undefined && prefix !== '') msg = prefix + msg;
  return { obj, msg, errType };
}

/** `object` without what structured clone cannot copy (described instead). Never throws. */
function copyable(object: unknown): Bindings | undefined {
  if (object === undefined || object === null) return undefined;
  let keys: string[];
  try {
    keys = Object.keys(object);
  } catch {
    return UNCOPYABLE_RECORD;
  }
  const copy: Bindings = {};
  for (const key of keys) {
    let value: unknown;
    try {
      value = (object as Bindings)[key];
      structuredClone(value);
    } catch {
      value = `[uncopyable: ${safeString(value)}]`;
    }
    copy[key] = value;
  }
  return copy;
}

function isError(value: unknown): value is Error {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/** The `type` pino's error serializer writes: the constructor's name. */
function typeName(error: Error): string | undefined {
  try {
    const name = error.constructor?.name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : String(value);
  } catch {
    return `[unprintable ${typeof value}]`;
  }
}

/**
 * A pino `Logger` that forwards to the host. `levelVal`: the host task logger's level; `info`: what
 * the host told the thread about its logger (see `LoggerInfo`); `task`: the task whose records
 * these are.
 * @internal
 */
export function createForwardingLogger(
  post: Post,
  id: number,
  levelVal: number,
  info: LoggerInfo,
  task: { readonly jobId: string; readonly executionId: string; readonly name: string },
): Logger {
  const root = info.bindsTask
    ? { ...info.bindings, jobId: task.jobId, executionId: task.executionId, task: task.name }
    : info.bindings;
  const shared: Shared = { post, id, version: info.version, root, events: new EventEmitter() };
  // Checked by the compiler against pino's own type (but for the members that return or take a
  // logger, whose pino types refer to pino's class), not merely cast to it.
  const logger: Logger = new ForwardingLogger(shared, levelVal, [], undefined, '') satisfies Pick<
    Logger,
    CheckedMember
  > as unknown as Logger;
  return logger;
}
