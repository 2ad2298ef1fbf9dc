/**
 * What a task running in the child receives as its context.
 * @internal
 * @module
 */
import type { InvocationContext, Logger, TaskInfo } from '@taskwarden/sdk';
import type { HostMessage } from '../protocol.js';
import { createChildLogger } from './child-logger.js';
import type { ProgressChannel } from './progress-channel.js';

/** A task's context; its logger is created on first use (most tasks never log, and pino costs start-up time). @internal */
export class TaskContext implements InvocationContext {
  readonly input: unknown;
  readonly signal: AbortSignal;
  readonly task: TaskInfo;
  readonly #logLevel: string;
  readonly #progress: ProgressChannel;
  readonly #sendLog: (line: string) => void;
  #logger: Logger | undefined;

  constructor(
    message: Extract<HostMessage, { type: 'run' }>,
    signal: AbortSignal,
    progress: ProgressChannel,
    sendLog: (line: string) => void,
  ) {
    this.input = message.input;
    this.signal = signal;
    this.task = message.task;
    this.#logLevel = message.logLevel;
    this.#progress = progress;
    this.#sendLog = sendLog;
  }

  /** A pino logger whose records go to the task's logger in the host. */
  get logger(): Logger {
    this.#logger ??= createChildLogger(this.#logLevel, this.#sendLog);
    return this.#logger;
  }

  /**
   * Sends progress to the host (`task.progress`). Throws a `SerializationError` (`what: 'message'`)
   * for a value that cannot be cloned or is larger than `maxMessageBytes`. A bound function, so
   * that `({ reportProgress }) => ...` works.
   */
  readonly reportProgress = (value: unknown): void => {
    this.#progress.report(value);
  };
}
