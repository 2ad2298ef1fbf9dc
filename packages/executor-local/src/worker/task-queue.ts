/** An item that knows whether it was taken out of the queue early. @internal */
export interface Queueable {
  dequeued: boolean;
}

/**
 * First in, first out, with O(1) removal from anywhere: a removed item is only marked and skipped
 * later, while `size` counts the items really waiting.
 * @internal
 */
export class TaskQueue<T extends Queueable> {
  #items: (T | undefined)[] = [];
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    item.dequeued = false;
    this.#items.push(item);
    this.#size++;
  }

  /** Puts `item` back at the front (it was taken out but never ran). */
  unshift(item: T): void {
    item.dequeued = false;
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
    this.#size++;
  }

  shift(): T | undefined {
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head];
      this.#items[this.#head++] = undefined;
      if (item !== undefined && !item.dequeued) {
        item.dequeued = true;
        this.#size--;
        this.#compact();
        return item;
      }
    }
    this.#compact();
    return undefined;
  }

  /** Takes `item` out; false if it was not waiting. */
  remove(item: T): boolean {
    if (item.dequeued) return false;
    item.dequeued = true;
    this.#size--;
    if (this.#size === 0) this.#clear();
    return true;
  }

  /** Takes out every waiting item that matches, in order. */
  removeWhere(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (let index = this.#head; index < this.#items.length; index++) {
      const item = this.#items[index];
      if (item !== undefined && !item.dequeued && predicate(item)) {
        this.remove(item);
        removed.push(item);
      }
    }
    return removed;
  }

  #compact(): void {
    if (this.#head === this.#items.length) this.#clear();
    else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  #clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
