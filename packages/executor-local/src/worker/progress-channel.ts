/**
 * A worker task's progress reports (`ctx.reportProgress`), on the worker's side.
 *
 * At most one report is in flight per task: the next is posted only once the host has delivered
 * the previous one to the runtime and acknowledged it (`progressAck`). Reports made meanwhile are
 * coalesced, the latest wins, so a task reporting in a tight loop cannot flood the host. When the
 * task ends, the latest pending report is posted right before its outcome, so it arrives first.
 *
 * A value that cannot be copied is refused at once, with a `SerializationError` thrown by
 * `reportProgress`, whether it would be posted now or later.
 * @internal
 * @module
 */
import type { SerializedError } from '@taskwarden/sdk/internal';
import { deserializeError, serializeError } from '@taskwarden/sdk/internal';

/** Posts one report to the host; throws what `postMessage` throws for a value it cannot copy. */
export type PostProgress = (value: unknown) => void;

/** One task's progress reports. @internal */
export class ProgressChannel {
  readonly #post: PostProgress;
  #inFlight = false;
  #pending: { readonly value: unknown } | undefined;
  #ended = false;

  constructor(post: PostProgress) {
    this.#post = post;
  }

  /**
   * Reports `value` (posted now, or kept as the latest until the report in flight is delivered).
   * Ignored once the task has ended.
   * @throws SerializationError when the value cannot be copied.
   */
  report(value: unknown): void {
    if (this.#ended) return;
    if (this.#inFlight) {
      // Copied now, as postMessage would: later changes to the value must not show.
      let copy: unknown;
      try {
        copy = structuredClone(value);
      } catch (error) {
        throw uncopyable(error);
      }
      this.#pending = { value: copy };
      return;
    }
    try {
      this.#post(value);
    } catch (error) {
      throw uncopyable(error);
    }
    this.#inFlight = true;
  }

  /** The host delivered the report in flight: the latest pending one (if any) goes now. */
  delivered(): void {
    this.#inFlight = false;
    if (this.#ended) return;
    this.#flush();
  }

  /** The task has ended: the latest pending report goes now, ahead of the outcome. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#flush();
  }

  #flush(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    try {
      this.#post(pending.value);
      this.#inFlight = true;
    } catch {
      // A copy of a value that could be copied can be copied again; nothing else can fail here.
    }
  }
}

/**
 * The `SerializationError` (`what: 'message'`) for a progress value that cannot be copied. Built
 * through `deserializeError`, which makes instances of the SDK's own classes: the runner bundle
 * does not carry the SDK's main entry (see worker-runner.ts).
 */
function uncopyable(cause: unknown): Error {
  const serializedCause = serializeError(cause);
  const message = `the progress value cannot be copied: ${serializedCause.message}`;
  const callSite = new Error().stack?.split('\n').slice(2).join('\n');
  const serialized: SerializedError = {
    __taskwardenError: 1,
    name: 'SerializationError',
    message,
    stack: `SerializationError: ${message}${callSite ? `\n${callSite}` : ''}`,
    code: 'SERIALIZATION_FAILED',
    props: { what: 'message' },
    cause: serializedCause,
  };
  return deserializeError(serialized);
}
