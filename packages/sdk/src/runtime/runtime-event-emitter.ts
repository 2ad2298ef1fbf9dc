import { EventEmitter } from 'eventemitter3';
import type { RuntimeEvents } from '../interfaces/events.js';

type Name = EventEmitter.EventNames<RuntimeEvents>;
type Listener<T extends Name> = EventEmitter.EventListener<RuntimeEvents, T>;

/**
 * The runtime's event emitter. It knows without a lookup whether anyone listens to
 * `taskStateChanged` (and `taskProgress`, `slotStateChanged`), which every transition of every task asks (eventemitter3's `listenerCount`
 * builds a prefixed key string on each call: four times per task on the inline hot path).
 * @internal
 */
export class RuntimeEventEmitterImpl extends EventEmitter<RuntimeEvents> {
  /** Whether `taskStateChanged` has listeners; refreshed on every (un)subscription. */
  hasStateListeners = false;
  /** Whether `taskProgress` has listeners. */
  hasProgressListeners = false;
  /** Whether `slotStateChanged` has listeners. */
  hasSlotListeners = false;
  /** Whether `taskCancellationStage` has listeners. */
  hasStageListeners = false;

  #refresh(): this {
    this.hasStateListeners = super.listenerCount('taskStateChanged') > 0;
    this.hasProgressListeners = super.listenerCount('taskProgress') > 0;
    this.hasSlotListeners = super.listenerCount('slotStateChanged') > 0;
    this.hasStageListeners = super.listenerCount('taskCancellationStage') > 0;
    return this;
  }

  override on<T extends Name>(event: T, fn: Listener<T>, context?: unknown): this {
    super.on(event, fn, context);
    return this.#refresh();
  }

  override addListener<T extends Name>(event: T, fn: Listener<T>, context?: unknown): this {
    super.addListener(event, fn, context);
    return this.#refresh();
  }

  override once<T extends Name>(event: T, fn: Listener<T>, context?: unknown): this {
    super.once(event, fn, context);
    return this.#refresh();
  }

  override removeListener<T extends Name>(
    event: T,
    fn?: Listener<T>,
    context?: unknown,
    once?: boolean,
  ): this {
    super.removeListener(event, fn, context, once);
    return this.#refresh();
  }

  override off<T extends Name>(event: T, fn?: Listener<T>, context?: unknown, once?: boolean): this {
    super.off(event, fn, context, once);
    return this.#refresh();
  }

  override removeAllListeners(event?: Name): this {
    super.removeAllListeners(event);
    return this.#refresh();
  }
}
