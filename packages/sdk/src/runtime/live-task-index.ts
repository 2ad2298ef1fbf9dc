import { IdMap } from './id-map.js';

/** Tables up to this capacity never shrink (1024 entries: 16 KiB). */
const SHRINK_ABOVE = 1024;

/**
 * The runtime's live tasks by execution id key (see execution-id.ts: the number of a generated id,
 * the string of any other).
 *
 * A `Map` whose entries come and go with every task keeps rebuilding its hash table (deleted
 * entries are only reclaimed by a rehash): about 90 bytes of garbage per task on the inline hot path.
 * Generated numbers are consecutive, so numbers go to a direct-mapped table instead: entry
 * `key & mask` holds the key that lives there, and a key whose entry is taken by another live key
 * (a long-lived task, one table length older) goes to a small overflow `Map`. No probing, no
 * tombstones; the table grows when the live tasks outgrow it and nothing is allocated per task.
 * Strings (ids chosen by the integrator) stay in a `Map`.
 * @internal
 */
export class LiveTaskIndex<TValue extends object> {
  #keys: number[] = [];
  #values: (TValue | undefined)[] = [];
  #mask = 0;
  /** Numbers in the table itself. */
  #direct = 0;
  /** Numbers whose entry was taken when they arrived. */
  readonly #overflow = new Map<number, TValue>();
  readonly #named = new IdMap<TValue>();

  constructor() {
    this.#resize(128);
  }

  /** How many values are indexed. */
  get size(): number {
    return this.#direct + this.#overflow.size + this.#named.size;
  }

  /** The value under `key`, if any. */
  get(key: string | number): TValue | undefined {
    if (typeof key === 'string') return this.#named.get(key);
    const at = key & this.#mask;
    const value = this.#values[at];
    if (value !== undefined && this.#keys[at] === key) return value;
    return this.#overflow.size === 0 ? undefined : this.#overflow.get(key);
  }

  /** Indexes `value` under `key`; returns false (and changes nothing) when the key is taken. */
  add(key: string | number, value: TValue): boolean {
    if (typeof key === 'string') {
      if (this.#named.has(key)) return false;
      this.#named.set(key, value);
      return true;
    }
    const at = key & this.#mask;
    if (this.#values[at] === undefined) {
      if (this.#overflow.size !== 0 && this.#overflow.has(key)) return false;
      this.#keys[at] = key;
      this.#values[at] = value;
      this.#direct++;
      return true;
    }
    if (this.#keys[at] === key || this.#overflow.has(key)) return false;
    this.#overflow.set(key, value);
    // Many live keys share entries: the table is too small for the spread of live keys.
    if (this.#overflow.size * 8 > this.#values.length) this.#resize(this.#values.length * 2);
    return true;
  }

  /** Removes `key` if it indexes `value` (another value under the same key stays). */
  delete(key: string | number, value: TValue): void {
    if (typeof key === 'string') {
      if (this.#named.get(key) === value) this.#named.delete(key);
      return;
    }
    const at = key & this.#mask;
    if (this.#values[at] === value && this.#keys[at] === key) {
      this.#values[at] = undefined;
      this.#direct--;
      // Far below the size that made it grow (overflow above an eighth), so it cannot bounce back.
      if (
        this.#values.length > SHRINK_ABOVE &&
        (this.#direct + this.#overflow.size) * 32 < this.#values.length
      ) {
        this.#resize(this.#values.length / 2);
      }
      return;
    }
    if (this.#overflow.size !== 0 && this.#overflow.get(key) === value) this.#overflow.delete(key);
  }

  /** Rebuilds the table at `capacity` (a power of two); keys that collide go to the overflow. */
  #resize(capacity: number): void {
    const oldKeys = this.#keys;
    const oldValues = this.#values;
    const overflow = Array.from(this.#overflow);
    this.#overflow.clear();
    // Filled with push: V8 keeps such arrays in fast (packed) elements.
    const keys: number[] = [];
    const values: (TValue | undefined)[] = [];
    for (let at = 0; at < capacity; at++) {
      keys.push(0);
      values.push(undefined);
    }
    this.#keys = keys;
    this.#values = values;
    this.#mask = capacity - 1;
    this.#direct = 0;
    for (let at = 0; at < oldValues.length; at++) {
      const value = oldValues[at];
      if (value !== undefined) this.add(oldKeys[at] as number, value);
    }
    for (const [key, value] of overflow) this.add(key, value);
  }
}
