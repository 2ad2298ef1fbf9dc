/**
 * Reporting garbage from the network (a stranger publishing on the cluster's subjects, a foreign
 * record in its buckets) without letting a flood of it flood the log: the first few per window are
 * logged at `warn`, the rest are counted and summed up when the window ends.
 * @internal
 * @module
 */
import type { Logger } from '@taskwarden/sdk';

const WINDOW_MS = 10_000;
const LOGGED_PER_WINDOW = 10;

/** A rate-limited warning for messages that are ignored. @internal */
export class GarbageLog {
  readonly #logger: Logger;
  #windowStart = 0;
  #inWindow = 0;
  #suppressed = 0;
  /** Every piece of garbage seen (for tests and stats). */
  count = 0;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Records one ignored message: where it came from and what is wrong with it. */
  report(where: string, what: string): void {
    this.count++;
    const time = Date.now();
    if (time - this.#windowStart >= WINDOW_MS) {
      if (this.#suppressed > 0) {
        this.#logger.warn(
          { suppressed: this.#suppressed },
          `ignored ${this.#suppressed} more malformed messages`,
        );
      }
      this.#windowStart = time;
      this.#inWindow = 0;
      this.#suppressed = 0;
    }
    if (this.#inWindow < LOGGED_PER_WINDOW) {
      this.#inWindow++;
      this.#logger.warn({ where }, `ignored a malformed message on ${where}: ${what}`);
    } else {
      this.#suppressed++;
    }
  }
}
