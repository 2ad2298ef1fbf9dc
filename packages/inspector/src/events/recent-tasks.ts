import type { EndedTaskView } from '../serialize/views.js';

/** The last `capacity` tasks that ended, newest last: the page's "recently ended" table. @internal */
export class RecentTasks {
  readonly #capacity: number;
  #items: EndedTaskView[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Remembers an ended task, forgetting the oldest beyond the capacity. */
  add(item: EndedTaskView): void {
    if (this.#capacity === 0) return;
    this.#items.push(item);
    // Trimming in batches keeps add() O(1) amortised even for a large capacity.
    if (this.#items.length >= this.#capacity * 2) this.#items = this.#items.slice(-this.#capacity);
  }

  /** The remembered tasks, oldest first (a fresh array). */
  list(): EndedTaskView[] {
    return this.#items.slice(-this.#capacity);
  }
}
