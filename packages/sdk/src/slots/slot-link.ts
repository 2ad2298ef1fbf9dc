import type { Task } from '../interfaces/task.js';

/**
 * A node of a slot's list of attached tasks in the default slot table.
 *
 * The runtime's tasks are nodes themselves (their class extends this one): attaching and detaching
 * them links and unlinks, with no hashing. Keying a Set or Map by a task object makes V8 create an
 * identity hash for it in the runtime, which cost a fifth of a no-op inline task. Any other
 * {@link Task} gets a {@link ForeignSlotLink} node, found again through a map.
 *
 * The fields are abstract, declared by each subclass: a base class without fields or constructor
 * costs nothing when a subclass is constructed, one with field initializers cost a tenth of a task.
 * @internal
 */
export abstract class SlotLink {
  /** The previous node in the slot's list (initialise to `undefined`). @internal */
  abstract slotPrev: SlotLink | undefined;
  /** The next node in the slot's list (initialise to `undefined`). @internal */
  abstract slotNext: SlotLink | undefined;
  /**
   * The slot (of whichever table) this node is linked into; `undefined` while not attached
   * (initialise to `undefined`). @internal
   */
  abstract slotHolder: object | undefined;

  /** The task this node stands for. @internal */
  abstract get linkedTask(): Task;
}

/** The node of a task that is not a {@link SlotLink} itself (a test's fake, an integrator's own). @internal */
export class ForeignSlotLink extends SlotLink {
  slotPrev: SlotLink | undefined = undefined;
  slotNext: SlotLink | undefined = undefined;
  slotHolder: object | undefined = undefined;
  readonly #task: Task;

  constructor(task: Task) {
    super();
    this.#task = task;
  }

  get linkedTask(): Task {
    return this.#task;
  }
}
