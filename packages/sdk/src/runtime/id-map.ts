/** The value of the entries that keep an {@link IdMap}'s table from emptying. */
const KEEP: unique symbol = Symbol('IdMap.keep');

/**
 * How many keep entries a map holds. V8 shrinks a table below half full buckets and rebuilds it when
 * deleted entries fill it; 16 entries keep it at 64 entries, so churn rebuilds it once per ~48
 * inserts instead of every other one.
 */
const KEEP_ENTRIES = 16;

/** The keys of the keep entries: symbols, so no id can ever meet one. */
const KEEP_KEYS: readonly symbol[] = Array.from({ length: KEEP_ENTRIES }, (_, n) =>
  Symbol(`IdMap.keep.${n}`),
);

/**
 * A map keyed by ids (allocation, job and execution ids) whose hash table never empties.
 *
 * V8 shrinks a `Map`'s table as soon as its last entry is deleted and grows it again on the next
 * insert: two calls into the runtime and two allocations. A table that holds one allocation, or a
 * job that runs one task at a time, paid that on every allocate/free or submit/done, about half the
 * cost of a slot table cycle. So a few entries stay, keyed by symbols no id can equal; they are
 * invisible through this class.
 * @internal
 */
export class IdMap<TValue> {
  readonly #map = new Map<string | symbol, TValue | typeof KEEP>(KEEP_KEYS.map((key) => [key, KEEP]));

  /** How many ids are mapped. */
  get size(): number {
    return this.#map.size - KEEP_ENTRIES;
  }

  /** The value of `id`, if any. */
  get(id: string): TValue | undefined {
    return this.#map.get(id) as TValue | undefined;
  }

  /** Whether `id` is mapped. */
  has(id: string): boolean {
    return this.#map.has(id);
  }

  /** Maps `id` to `value`. */
  set(id: string, value: TValue): void {
    this.#map.set(id, value);
  }

  /** Forgets `id`. */
  delete(id: string): void {
    this.#map.delete(id);
  }

  /** The mapped ids and values, in insertion order (live, like a `Map`'s iterator). */
  *entries(): IterableIterator<[string, TValue]> {
    for (const [id, value] of this.#map) if (value !== KEEP) yield [id as string, value];
  }

  /** The mapped ids, in insertion order. */
  *keys(): IterableIterator<string> {
    for (const [id, value] of this.#map) if (value !== KEEP) yield id as string;
  }

  /** The values, in insertion order. */
  *values(): IterableIterator<TValue> {
    for (const value of this.#map.values()) if (value !== KEEP) yield value;
  }
}
