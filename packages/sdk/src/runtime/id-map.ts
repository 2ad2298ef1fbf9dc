/** The value of the entry that keeps an {@link IdMap}'s table from emptying. */
const KEEP: unique symbol = Symbol('IdMap.keep');

/**
 * A map keyed by non-empty ids (allocation, job and execution ids) whose hash table never empties.
 *
 * V8 shrinks a `Map`'s table as soon as its last entry is deleted and grows it again on the next
 * insert: two calls into the runtime and two allocations. A table that holds one allocation, or a
 * job that runs one task at a time, paid that on every allocate/free or submit/done, about half the
 * cost of a slot table cycle. So one entry stays, under the empty string, which is never an id
 * (every id is validated non-empty before it is stored); it is invisible through this class.
 * @internal
 */
export class IdMap<TValue> {
  readonly #map = new Map<string, TValue | typeof KEEP>([['', KEEP]]);

  /** How many ids are mapped. */
  get size(): number {
    return this.#map.size - 1;
  }

  /** The value of `id`, if any. */
  get(id: string): TValue | undefined {
    const value = this.#map.get(id);
    return value === KEEP ? undefined : value;
  }

  /** Whether `id` is mapped. */
  has(id: string): boolean {
    return id !== '' && this.#map.has(id);
  }

  /** Maps `id` (non-empty) to `value`. */
  set(id: string, value: TValue): void {
    if (id === '') throw new RangeError('IdMap: ids are non-empty');
    this.#map.set(id, value);
  }

  /** Forgets `id`. */
  delete(id: string): void {
    if (id !== '') this.#map.delete(id);
  }

  /** The mapped ids and values, in insertion order (live, like a `Map`'s iterator). */
  *entries(): IterableIterator<[string, TValue]> {
    for (const [id, value] of this.#map) if (value !== KEEP) yield [id, value];
  }

  /** The mapped ids, in insertion order. */
  *keys(): IterableIterator<string> {
    for (const [id, value] of this.#map) if (value !== KEEP) yield id;
  }

  /** The values, in insertion order. */
  *values(): IterableIterator<TValue> {
    for (const value of this.#map.values()) if (value !== KEEP) yield value;
  }
}
