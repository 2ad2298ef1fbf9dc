import type { Logger } from '../interfaces/logger.js';

/** Where a lazy logger gets its real logger from, on first use (a task: its pino child). @internal */
export interface LoggerSource {
  readonly logger: Logger;
}

/** The proxy's target: the source, and the proxy itself (to tell its own reads from inherited ones). */
class LazyLoggerTarget {
  readonly source: LoggerSource;
  proxy: object | undefined = undefined;

  constructor(source: LoggerSource) {
    this.source = source;
  }
}

/**
 * Every operation goes to the real logger. Methods read from the proxy itself are bound to the real
 * logger, so a log call costs what it costs on the real one (pino reads a dozen of its own fields per
 * line) and `child()` makes an ordinary pino child of it. The target only anchors the proxy: the
 * operations that would change it (`preventExtensions`) are refused, so the proxy invariants never
 * tie the proxy to its state.
 */
const handler: ProxyHandler<LazyLoggerTarget> = {
  get(target, key, receiver) {
    const real = target.source.logger;
    if (receiver !== target.proxy) return Reflect.get(real, key, receiver);
    const value = Reflect.get(real, key, real) as unknown;
    return typeof value === 'function' ? value.bind(real) : value;
  },
  set(target, key, value, receiver) {
    const real = target.source.logger;
    return Reflect.set(real, key, value, receiver === target.proxy ? real : receiver);
  },
  has: (target, key) => Reflect.has(target.source.logger, key),
  ownKeys: (target) => Reflect.ownKeys(target.source.logger),
  getOwnPropertyDescriptor(target, key) {
    const descriptor = Reflect.getOwnPropertyDescriptor(target.source.logger, key);
    // Reported configurable: a non-configurable one would have to exist on the target as well.
    if (descriptor) descriptor.configurable = true;
    return descriptor;
  },
  defineProperty: (target, key, descriptor) => Reflect.defineProperty(target.source.logger, key, descriptor),
  deleteProperty: (target, key) => Reflect.deleteProperty(target.source.logger, key),
  getPrototypeOf: (target) => Reflect.getPrototypeOf(target.source.logger),
  setPrototypeOf: (target, prototype) => Reflect.setPrototypeOf(target.source.logger, prototype),
  preventExtensions: () => false,
};

/**
 * A logger that stands for `source.logger` and reads it only when it is first used: the launch
 * spec's `logger`, an own data property that costs nothing until an executor or a task logs.
 *
 * Why not an own getter: a spec must be a plain object of own properties (`{ ...spec, input }`), and
 * an own accessor on a fresh object costs either an object literal with `get logger()` (a fresh
 * closure, and V8 keeps such objects in dictionary mode: every read of the spec turned slow) or an
 * `Object.defineProperty` call (a fifth of a no-op inline task). A pino child created up front costs
 * more than the whole task. A proxy costs one small object.
 *
 * It behaves as the real logger: levels, `child()`, `bindings()`, `isLevelEnabled()`, events, custom
 * levels; `Object.freeze` on it is refused (a task logger is shared with the runtime).
 * @internal
 */
export function lazyLogger(source: LoggerSource): Logger {
  const target = new LazyLoggerTarget(source);
  const proxy = new Proxy(target, handler);
  target.proxy = proxy;
  return proxy as unknown as Logger;
}
