import { isIP } from 'node:net';
import { createDefaultLogger, type Logger, type TaskRuntime } from '@taskwarden/sdk';
import type { AgentDirectory } from '../agent-directory.js';
import type { InspectorOptions } from '../inspector-options.js';

/** The inspector's options with every default applied. @internal */
export interface ResolvedInspectorOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  readonly agents: AgentDirectory | undefined;
  /** Lower-case host names accepted in `Host`; `undefined`: any. */
  readonly allowedHosts: ReadonlySet<string> | undefined;
  readonly maxStreams: number;
  readonly maxQueuedBytes: number;
  readonly heartbeatMs: number;
  readonly snapshotIntervalMs: number;
  readonly flushIntervalMs: number;
  readonly maxBatchEvents: number;
  readonly recentTasks: number;
  readonly maxTasks: number;
  readonly agentsTimeoutMs: number;
  readonly logger: Logger;
  /** Whether `host` is a loopback address or `localhost`. */
  readonly loopback: boolean;
}

/** The longest delay a Node timer honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const KNOWN_KEYS = [
  'host',
  'port',
  'token',
  'agents',
  'allowedHosts',
  'maxStreams',
  'maxQueuedBytes',
  'heartbeatMs',
  'snapshotIntervalMs',
  'flushIntervalMs',
  'maxBatchEvents',
  'recentTasks',
  'maxTasks',
  'agentsTimeoutMs',
  'logger',
] as const satisfies readonly (keyof InspectorOptions)[];

/** Visible ASCII, no spaces: what a bearer token can carry in a header without quoting. */
const TOKEN_PATTERN = /^[\x21-\x7e]{1,1024}$/;
/** A host name or address as `listen` takes it (letters, digits, dots, dashes, colons for IPv6). */
const HOST_PATTERN = /^[A-Za-z0-9._:-]{1,253}$/;

/** True for 127.0.0.0/8, ::1, the IPv4-mapped loopback and `localhost`. @internal */
export function isLoopbackHost(host: string): boolean {
  const lower = host.toLowerCase();
  if (lower === 'localhost' || lower === '::1') return true;
  if (isIP(lower) === 4) return lower.startsWith('127.');
  return lower.startsWith('::ffff:127.');
}

/** `host` as it appears in a URL or a `Host` header: IPv6 literals in brackets, lower case. @internal */
export function urlHost(host: string): string {
  const lower = host.toLowerCase();
  return isIP(lower) === 6 ? `[${lower}]` : lower;
}

function integer(
  options: InspectorOptions,
  key: keyof InspectorOptions,
  min: number,
  max: number,
  fallback: number,
) {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`options.${key} must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`options.${key} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/**
 * Validates `startInspector`'s arguments and applies the defaults. Throws TypeError or RangeError
 * naming the option. @internal
 */
export function resolveOptions(
  runtime: TaskRuntime,
  options: InspectorOptions | undefined,
): ResolvedInspectorOptions {
  checkRuntime(runtime);
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError('startInspector options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`unknown inspector option '${key}' (known: ${KNOWN_KEYS.join(', ')})`);
    }
  }

  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string') throw new TypeError(`options.host must be a string, got ${typeof host}`);
  if (!HOST_PATTERN.test(host))
    throw new RangeError(`options.host is not a host name or address: ${JSON.stringify(host)}`);

  const { token } = options;
  if (token !== undefined) {
    if (typeof token !== 'string') throw new TypeError(`options.token must be a string, got ${typeof token}`);
    if (!TOKEN_PATTERN.test(token)) {
      throw new RangeError('options.token must be 1 to 1024 visible ASCII characters without spaces');
    }
  }

  const { agents } = options;
  if (
    agents !== undefined &&
    (typeof agents !== 'object' || agents === null || typeof agents.agents !== 'function')
  ) {
    throw new TypeError('options.agents must be an object with an agents() method (an AgentDirectory)');
  }

  const { logger } = options;
  if (
    logger !== undefined &&
    (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function')
  ) {
    throw new TypeError('options.logger must be a pino logger (an object with a warn() method)');
  }

  const loopback = isLoopbackHost(host);
  let allowedHosts: Set<string> | undefined;
  if (options.allowedHosts !== undefined) {
    if (!Array.isArray(options.allowedHosts))
      throw new TypeError('options.allowedHosts must be an array of host names');
    allowedHosts = new Set();
    for (const name of options.allowedHosts as unknown[]) {
      if (typeof name !== 'string' || !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]{1,253})$/.test(name)) {
        throw new RangeError(
          `options.allowedHosts must hold host names without port (IPv6 in brackets), got ${JSON.stringify(name)}`,
        );
      }
      allowedHosts.add(name.toLowerCase());
    }
  } else if (loopback) {
    allowedHosts = new Set(['localhost', '127.0.0.1', '[::1]', urlHost(host)]);
  }

  return {
    host,
    port: integer(options, 'port', 0, 65_535, 0),
    token,
    agents,
    allowedHosts,
    maxStreams: integer(options, 'maxStreams', 1, 100_000, 64),
    maxQueuedBytes: integer(options, 'maxQueuedBytes', 1_024, 2 ** 30, 1_048_576),
    heartbeatMs: integer(options, 'heartbeatMs', 10, MAX_TIMER_MS, 15_000),
    snapshotIntervalMs: integer(options, 'snapshotIntervalMs', 10, MAX_TIMER_MS, 5_000),
    flushIntervalMs: integer(options, 'flushIntervalMs', 1, 60_000, 100),
    maxBatchEvents: integer(options, 'maxBatchEvents', 1, 1_000_000, 1_000),
    recentTasks: integer(options, 'recentTasks', 0, 10_000, 50),
    maxTasks: integer(options, 'maxTasks', 1, 1_000_000, 1_000),
    agentsTimeoutMs: integer(options, 'agentsTimeoutMs', 1, MAX_TIMER_MS, 2_000),
    logger: logger ?? createDefaultLogger(),
    loopback,
  };
}

function checkRuntime(runtime: TaskRuntime): void {
  const looksRight =
    typeof runtime === 'object' &&
    runtime !== null &&
    typeof runtime.snapshot === 'function' &&
    typeof runtime.getTask === 'function' &&
    typeof runtime.cancelJob === 'function' &&
    typeof runtime.events?.on === 'function' &&
    typeof runtime.events?.off === 'function';
  if (!looksRight) {
    throw new TypeError('startInspector: runtime must be a taskwarden runtime (from createRuntime)');
  }
}
