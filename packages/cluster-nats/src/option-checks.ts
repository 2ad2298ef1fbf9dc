/**
 * Validation of the options of `NatsClusterExecutor` and `startAgent`: each bad option is a
 * `TypeError` or `RangeError` naming it, up front, and an unknown key (a typo such as `leaseMS`) is a
 * `TypeError` naming it.
 * @internal
 * @module
 */
import { isNameToken } from './protocol/subjects.js';

/** The longest delay a Node timer takes. @internal */
export const MAX_TIMER_MS = 2_147_483_647;

/** Throws unless `options` is an object with only `known` keys. @internal */
export function checkKeys(
  options: unknown,
  known: readonly string[],
  who: string,
): asserts options is object {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`${who}: options must be an object`);
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new TypeError(
      `${who}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${known.join(', ')})`,
    );
  }
}

/** A list of server URLs from a string (comma-separated allowed) or an array. @internal */
export function serversOption(value: unknown, who: string): string[] {
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError(
      `${who}: options.servers must be a URL or a non-empty array of URLs, e.g. 'nats://127.0.0.1:4222'`,
    );
  }
  const servers = list.map((server) => (typeof server === 'string' ? server.trim() : server));
  for (const server of servers) {
    if (typeof server !== 'string' || server.length === 0) {
      throw new TypeError(
        `${who}: options.servers must hold non-empty strings, got ${JSON.stringify(server)}`,
      );
    }
  }
  return servers as string[];
}

/** A name usable as one NATS subject token. @internal */
export function nameOption(value: unknown, name: string, fallback: string, who: string): string {
  if (value === undefined) return fallback;
  if (!isNameToken(value)) {
    throw new TypeError(
      `${who}: options.${name} must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-', got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A whole number of milliseconds within [min, MAX_TIMER_MS]. @internal */
export function msOption(value: unknown, name: string, fallback: number, min: number, who: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${who}: options.${name} must be a number of milliseconds, got ${typeof value}`);
  }
  if (!Number.isFinite(value) || value < min || value > MAX_TIMER_MS) {
    throw new RangeError(`${who}: options.${name} must be from ${min} to ${MAX_TIMER_MS} ms, got ${value}`);
  }
  return value;
}

/** A whole count within [min, max]; `Infinity` allowed when `infinite`. @internal */
export function countOption(
  value: unknown,
  name: string,
  fallback: number,
  min: number,
  who: string,
  infinite = false,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number')
    throw new TypeError(`${who}: options.${name} must be a number, got ${typeof value}`);
  if (infinite && value === Number.POSITIVE_INFINITY) return value;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `${who}: options.${name} must be an integer >= ${min}${infinite ? ' or Infinity' : ''}, got ${value}`,
    );
  }
  return value;
}
