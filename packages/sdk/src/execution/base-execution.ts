import { toError } from '../errors.js';
import type { Execution, LaunchSpec } from '../interfaces/executor.js';

const noop = (): void => undefined;

/**
 * The bookkeeping every execution needs, for executor authors: it reports to the runtime through
 * `spec.report` exactly once per fact (started, running, the outcome), offers the same facts as
 * promises to code that prefers them (`started`, `result`, created on first read and never an
 * unhandled rejection for `started`), and makes `cancel` idempotent and safe (your
 * {@link BaseExecution.onCancel} runs once, before the outcome, and what it throws is logged).
 *
 * The built-in inline, worker and process executors are built on it. The constructor attaches the
 * execution to the task (`spec.report.attach`), so a cancel that arrives while `launch()` still
 * runs task code reaches {@link BaseExecution.onCancel}; do not start work in your constructor
 * before `super(spec)` has returned.
 *
 * @example
 * ```ts
 * class SleepExecution extends BaseExecution {
 *   #timer: NodeJS.Timeout;
 *   constructor(spec: LaunchSpec) {
 *     super(spec);
 *     this.markRunning();
 *     this.#timer = setTimeout(() => this.resolve('slept'), Number(spec.input));
 *   }
 *   protected onCancel(reason: Error): void {
 *     clearTimeout(this.#timer);
 *     this.reject(reason); // the work has stopped: report it
 *   }
 * }
 * ```
 */
export abstract class BaseExecution implements Execution {
  /** The launch spec this execution runs. */
  readonly spec: LaunchSpec;
  #phase: 0 | 1 | 2 = 0; // 0 loading, 1 started, 2 settled
  #hadStarted = false;
  #ok = false;
  #value: unknown;
  #cancelReason: Error | undefined;
  /** The promises someone asked for; most executions never make any (one object instead of six fields). */
  #promises: Promises | undefined;

  constructor(spec: LaunchSpec) {
    this.spec = spec;
    spec.report.attach(this);
  }

  /** True once the outcome was reported ({@link BaseExecution.resolve} or {@link BaseExecution.reject}). */
  get settled(): boolean {
    return this.#phase === 2;
  }

  /** The reason of the first `cancel()`, until then `undefined`. */
  get cancelReason(): Error | undefined {
    return this.#cancelReason;
  }

  /**
   * Resolves when the code is loaded (or the work finished); rejects when the work failed before it
   * started. Created on first read; a rejection nobody awaits is never reported as unhandled.
   */
  get started(): Promise<void> {
    this.#promises ??= {};
    const promises = this.#promises;
    if (promises.started === undefined) {
      if (this.#phase === 0) {
        promises.started = new Promise<void>((resolve, reject) => {
          promises.resolveStarted = resolve;
          promises.rejectStarted = reject;
        });
      } else {
        promises.started = this.#ok || this.#hadStarted ? Promise.resolve() : Promise.reject(this.#value);
      }
      promises.started.catch(noop);
    }
    return promises.started;
  }

  /**
   * Settles with the outcome once the work has stopped: the value of `resolve`, the error of
   * `reject`. Created on first read; whoever reads it handles its rejection.
   */
  get result(): Promise<unknown> {
    this.#promises ??= {};
    const promises = this.#promises;
    if (promises.result === undefined) {
      if (this.#phase !== 2) {
        promises.result = new Promise<unknown>((resolve, reject) => {
          promises.resolveResult = resolve;
          promises.rejectResult = reject;
        });
      } else {
        promises.result = this.#ok ? Promise.resolve(this.#value) : Promise.reject(this.#value);
      }
    }
    return promises.result;
  }

  /** The code is loaded (DEPLOYING → INITIALIZING). Once; ignored after the outcome. */
  markStarted(): void {
    if (this.#phase !== 0) return;
    this.#phase = 1;
    this.#hadStarted = true;
    this.#promises?.resolveStarted?.();
    this.spec.report.started();
  }

  /** `invoke` is about to run (→ RUNNING); implies {@link BaseExecution.markStarted}. Ignored after the outcome. */
  markRunning(): void {
    if (this.#phase === 2) return;
    if (this.#phase === 0) {
      // `running` implies `started` for the runtime: one report less.
      this.#phase = 1;
      this.#hadStarted = true;
      this.#promises?.resolveStarted?.();
    }
    this.spec.report.running();
  }

  /** Forwards a progress report of the work; ignored after the outcome. */
  reportProgress(value: unknown): void {
    if (this.#phase !== 2) this.spec.report.progress(value);
  }

  /** The work returned `value` and has stopped. The first outcome wins. */
  resolve(value: unknown): void {
    if (this.#phase === 2) return;
    this.#phase = 2;
    this.#ok = true;
    this.#value = value;
    const promises = this.#promises;
    if (promises !== undefined) {
      promises.resolveStarted?.();
      promises.resolveResult?.(value);
      release(promises);
    }
    this.spec.report.finished(value);
  }

  /** The work threw `error`, was stopped, or could not start, and has stopped. The first outcome wins. */
  reject(error: unknown): void {
    if (this.#phase === 2) return;
    const before = this.#phase;
    this.#phase = 2;
    this.#value = error;
    const promises = this.#promises;
    if (promises !== undefined) {
      if (before === 0) promises.rejectStarted?.(error);
      promises.rejectResult?.(error);
      release(promises);
    }
    this.spec.report.failed(error);
  }

  /**
   * Graceful stop: the first call records `reason` and runs {@link BaseExecution.onCancel}; later
   * calls, and calls after the outcome, do nothing. Never throws.
   */
  cancel(reason: Error): void {
    if (this.#cancelReason !== undefined || this.#phase === 2) return;
    this.#cancelReason = reason;
    try {
      this.onCancel(reason);
    } catch (error) {
      try {
        this.spec.logger.warn({ err: toError(error) }, 'cancelling the execution threw');
      } catch {
        /* a broken logger must not break the ladder */
      }
    }
  }

  /**
   * Asks the work to stop (abort its signal, call the invokable's `cancel()` hook, send a message).
   * Called at most once, never after the outcome; report the outcome when the work has stopped.
   */
  protected abstract onCancel(reason: Error): void;
}

/** The promises of a {@link BaseExecution} that someone asked for, with their settle functions. */
interface Promises {
  started?: Promise<void>;
  resolveStarted?: (() => void) | undefined;
  rejectStarted?: ((error: unknown) => void) | undefined;
  result?: Promise<unknown>;
  resolveResult?: ((value: unknown) => void) | undefined;
  rejectResult?: ((error: unknown) => void) | undefined;
}

/** Drops the settle functions once the outcome is out (the promises stay). */
function release(promises: Promises): void {
  promises.resolveStarted = promises.rejectStarted = undefined;
  promises.resolveResult = promises.rejectResult = undefined;
}
