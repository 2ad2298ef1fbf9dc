/**
 * Turns values from user code into plain JSON without ever throwing: task names, error messages,
 * stacks and progress values (which may be a BigInt, a Date, a Map, a cycle, a Proxy whose traps
 * throw, or a string of many megabytes) all reach the page and the API through here.
 */

/** Appended to a string cut short, followed by how many characters were dropped. */
export const TRUNCATION_MARKER = '…[truncated ';

/** Budgets of {@link toJsonSafe}. */
export interface JsonSafeLimits {
  /** Longest string kept, in UTF-16 code units. */
  readonly maxString: number;
  /** Deepest nesting kept; deeper values become `'[…]'`. */
  readonly maxDepth: number;
  /** Most values (of every depth) kept; the rest become `'[…]'`. */
  readonly maxNodes: number;
  /** Most items of one array, entries of one Map or Set, or keys of one object. */
  readonly maxItems: number;
}

/** Limits for progress values: enough for `{ done, total, file }`, small enough for 20 messages/s. */
export const PROGRESS_LIMITS: JsonSafeLimits = { maxString: 500, maxDepth: 4, maxNodes: 100, maxItems: 20 };

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * `value` cut to `max` code units with a marker saying how much was dropped. A cut never splits a
 * surrogate pair (JSON.stringify would escape the lone half; the page would show a replacement
 * character).
 */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  let end = max;
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${value.slice(0, end)}${TRUNCATION_MARKER}${value.length - end} chars]`;
}

/** `String(value)` cut to `max`, for any value, never throwing. @internal */
export function safeText(value: unknown, max: number): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : typeof value === 'symbol' ? value.toString() : String(value);
  } catch {
    text = `[unprintable ${typeof value}]`;
  }
  return truncate(text, max);
}

/** `{ name, message }` of anything thrown or reported as an error, cut to `max` each; never throws. @internal */
export function errorSummary(error: unknown, max: number): { name: string; message: string } {
  let name: unknown = 'Error';
  let message: unknown = error;
  try {
    if (typeof error === 'object' && error !== null) {
      name = (error as { name?: unknown }).name ?? 'Error';
      message = (error as { message?: unknown }).message ?? '';
    }
  } catch {
    name = 'Error';
    message = '[unreadable error]';
  }
  return { name: safeText(name, 200), message: safeText(message, max) };
}

/**
 * A plain JSON value standing for `value`: finite numbers, strings (cut), booleans and null as they
 * are; `NaN`/`Infinity` as strings; BigInt as `"123n"`; a Date as its ISO string; a Map as
 * `{ "$map": [[key, value], …] }`; a Set as `{ "$set": […] }`; an Error as `{ name, message }`;
 * binary data as `"[Uint8Array(1024)]"`; a cycle as `"[circular]"`; what exceeds the limits or
 * throws while being read as a marker string. Never throws.
 */
export function toJsonSafe(value: unknown, limits: JsonSafeLimits = PROGRESS_LIMITS): JsonValue {
  const state = { nodes: 0 };
  return convert(value, limits, 0, state, new Set());
}

function convert(
  value: unknown,
  limits: JsonSafeLimits,
  depth: number,
  state: { nodes: number },
  seen: Set<object>,
): JsonValue {
  state.nodes += 1;
  if (state.nodes > limits.maxNodes) return '[…]';
  switch (typeof value) {
    case 'string':
      return truncate(value, limits.maxString);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return truncate(`${value}n`, limits.maxString);
    case 'undefined':
      return null;
    case 'symbol':
    case 'function':
      return safeText(value, limits.maxString);
  }
  if (value === null) return null;
  const object = value as object;
  if (seen.has(object)) return '[circular]';
  if (depth >= limits.maxDepth) return '[…]';
  seen.add(object);
  try {
    return convertObject(object, limits, depth, state, seen);
  } catch {
    return '[unreadable]';
  } finally {
    seen.delete(object);
  }
}

function convertObject(
  object: object,
  limits: JsonSafeLimits,
  depth: number,
  state: { nodes: number },
  seen: Set<object>,
): JsonValue {
  const next = (item: unknown) => convert(item, limits, depth + 1, state, seen);
  if (object instanceof Date) {
    const time = object.getTime();
    return Number.isFinite(time) ? object.toISOString() : 'Invalid Date';
  }
  if (ArrayBuffer.isView(object)) {
    return `[${object.constructor?.name ?? 'ArrayBufferView'}(${object.byteLength} bytes)]`;
  }
  if (object instanceof ArrayBuffer) return `[ArrayBuffer(${object.byteLength} bytes)]`;
  if (object instanceof Error) return errorSummary(object, limits.maxString);
  if (object instanceof RegExp) return truncate(String(object), limits.maxString);
  if (object instanceof Map) {
    const entries: JsonValue[] = [];
    for (const [key, item] of object) {
      if (entries.length >= limits.maxItems) {
        entries.push(`[${object.size - limits.maxItems} more]`);
        break;
      }
      entries.push([next(key), next(item)]);
    }
    return { $map: entries };
  }
  if (object instanceof Set) {
    const items: JsonValue[] = [];
    for (const item of object) {
      if (items.length >= limits.maxItems) {
        items.push(`[${object.size - limits.maxItems} more]`);
        break;
      }
      items.push(next(item));
    }
    return { $set: items };
  }
  if (Array.isArray(object)) {
    const length = object.length;
    const items: JsonValue[] = [];
    for (let i = 0; i < Math.min(length, limits.maxItems); i++) items.push(next(object[i]));
    if (length > limits.maxItems) items.push(`[${length - limits.maxItems} more]`);
    return items;
  }
  // A plain record. Only own enumerable string keys; a null-prototype result so a key named
  // `__proto__` stays data.
  const result: { [key: string]: JsonValue } = Object.create(null);
  const keys = Object.keys(object);
  for (let i = 0; i < Math.min(keys.length, limits.maxItems); i++) {
    const key = keys[i] as string;
    let item: unknown;
    try {
      item = (object as Record<string, unknown>)[key];
    } catch {
      item = '[unreadable]';
    }
    result[truncate(key, 100)] = next(item);
  }
  if (keys.length > limits.maxItems) result['…'] = `[${keys.length - limits.maxItems} more keys]`;
  return result;
}
