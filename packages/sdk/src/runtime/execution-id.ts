// Execution ids: a random prefix per process plus a counter, `<16 hex digits>-<base-36 counter>`. As
// unique as a UUID for practical purposes (the prefix has 64 random bits) and far cheaper per task.
// The bits come from Math.random, which V8 seeds from the OS per process: the prefix only has to
// differ between processes, and node:crypto cost every host a few milliseconds of startup.
//
// A generated id is kept as its number until someone reads it as a string, and the indexes key it by
// that number: building and hashing a fresh 20-character string was a sixth of a no-op inline task.
/** 32 random bits as 8 hex digits. */
function randomHex32(): string {
  return Math.floor(Math.random() * 0x1_0000_0000)
    .toString(16)
    .padStart(8, '0');
}
const PREFIX = `${randomHex32()}${randomHex32()}-`;
let counter = 0;

/** The number of the next generated execution id. @internal */
export function nextExecutionNumber(): number {
  return counter++;
}

// Formatting: generated numbers are consecutive, so the id is the prefix and the number's base-36
// digits but the last two (kept, changing once every 1296 ids) plus the last two digits (from a
// table): one string concatenation per id instead of a radix conversion in the runtime.
const BASE = 36 * 36;
const LAST_DIGITS: readonly string[] = Array.from({ length: BASE }, (_, n) =>
  n.toString(36).padStart(2, '0'),
);
const SMALL: readonly string[] = Array.from({ length: BASE }, (_, n) => PREFIX + n.toString(36));
let headOf = -1;
let head = '';

/** The execution id of a generated number. @internal */
export function formatExecutionId(key: string | number): string {
  if (typeof key !== 'number') return key;
  // A negative key comes from an integrator's id such as `<prefix>--a`.
  if (key < 0) return PREFIX + key.toString(36);
  if (key < BASE) return SMALL[key] as string;
  const high = Math.floor(key / BASE);
  if (high !== headOf) {
    head = PREFIX + high.toString(36);
    headOf = high;
  }
  return head + (LAST_DIGITS[key - high * BASE] as string);
}

/**
 * The index key of an execution id: the number of an id in the generated form (whoever wrote it),
 * the id itself otherwise. One id always has one key and one key one id, so an index keyed this
 * way refuses duplicates exactly as one keyed by the string would.
 * @internal
 */
export function executionKeyOf(executionId: string): string | number {
  if (executionId.length <= PREFIX.length || !executionId.startsWith(PREFIX)) return executionId;
  const digits = executionId.slice(PREFIX.length);
  const key = Number.parseInt(digits, 36);
  return Number.isSafeInteger(key) && key.toString(36) === digits ? key : executionId;
}
