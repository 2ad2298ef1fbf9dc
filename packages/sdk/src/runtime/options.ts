import type { CancellationTimings } from '../interfaces/cancellation-strategy.js';
import type { Executor } from '../interfaces/executor.js';
import type { RuntimeOptions } from '../interfaces/runtime.js';
import type { CancellationOptions } from '../interfaces/task.js';

/**
 * The longest delay a Node timer can wait (2^31-1 ms, about 24.8 days); `setTimeout` runs anything
 * longer after 1 ms. Every millisecond option of the SDK is refused above it.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * The most static slots a runtime accepts. The table builds its static slots up front; a million of
 * them already take about 100 MB. Use dynamic slots (`index: -1`) beyond that.
 */
export const MAX_SLOTS = 1_000_000;

const RUNTIME_OPTION_KEYS = new Set([
  'numberOfSlots',
  'executors',
  'defaultExecutor',
  'cancellation',
  'fatalErrorHandler',
  'scheduler',
  'logger',
  'container',
  'transitionLogLevel',
]);
const CANCELLATION_KEYS = new Set(['interruptIntervalMs', 'gracePeriodMs', 'timeoutMs']);

/** Throws TypeError naming the first key of `value` that is not in `known`. @internal */
export function rejectUnknownKeys(value: object, known: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) {
      throw new TypeError(`unknown option ${where}.${key} (known: ${[...known].join(', ')})`);
    }
  }
}

/** Ladder timings used when neither the runtime nor the task sets them. */
export const DEFAULT_CANCELLATION: CancellationTimings = Object.freeze({
  interruptIntervalMs: 30_000,
  gracePeriodMs: 30_000,
  timeoutMs: 180_000,
});

/** Runtime options after validation and defaults, as registered under `Tokens.RuntimeOptions`. */
export interface ResolvedRuntimeOptions {
  readonly numberOfSlots: number;
  readonly defaultExecutor: string | undefined;
  readonly cancellation: CancellationTimings;
  readonly transitionLogLevel: 'info' | 'debug';
}

/**
 * Validates `createRuntime` options; throws TypeError or RangeError naming the option.
 * @internal
 */
export function validateRuntimeOptions(options: RuntimeOptions): ResolvedRuntimeOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('options must be an object with at least numberOfSlots');
  }
  rejectUnknownKeys(options, RUNTIME_OPTION_KEYS, 'options');
  const { numberOfSlots } = options;
  if (typeof numberOfSlots !== 'number') {
    throw new TypeError(`options.numberOfSlots must be a number, got ${typeof numberOfSlots}`);
  }
  if (!Number.isSafeInteger(numberOfSlots) || numberOfSlots < 0 || numberOfSlots > MAX_SLOTS) {
    throw new RangeError(
      `options.numberOfSlots must be an integer from 0 to ${MAX_SLOTS} (use dynamic slots beyond), got ${numberOfSlots}`,
    );
  }
  if (options.executors !== undefined) validateExecutors(options.executors);
  if (options.defaultExecutor !== undefined) {
    if (typeof options.defaultExecutor !== 'string') {
      throw new TypeError('options.defaultExecutor must be a string');
    }
    if (options.executors && !Object.hasOwn(options.executors, options.defaultExecutor)) {
      throw new RangeError(
        `options.defaultExecutor '${options.defaultExecutor}' is not one of options.executors (${Object.keys(options.executors).join(', ')})`,
      );
    }
  }
  const cancellation = resolveTimings(DEFAULT_CANCELLATION, options.cancellation, 'options.cancellation');
  for (const key of ['fatalErrorHandler', 'scheduler', 'logger', 'container'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'object' || value === null)) {
      throw new TypeError(`options.${key} must be an object`);
    }
  }
  if (options.fatalErrorHandler && typeof options.fatalErrorHandler.onFatalError !== 'function') {
    throw new TypeError('options.fatalErrorHandler must have an onFatalError(error) method');
  }
  if (
    options.scheduler &&
    (typeof options.scheduler.schedule !== 'function' || typeof options.scheduler.now !== 'function')
  ) {
    throw new TypeError('options.scheduler must have schedule(delayMs, callback) and now() methods');
  }
  if (options.logger && typeof options.logger.child !== 'function') {
    throw new TypeError('options.logger must be a pino logger');
  }
  if (options.container && typeof options.container.createChildContainer !== 'function') {
    throw new TypeError('options.container must be a tsyringe DependencyContainer');
  }
  const transitionLogLevel = options.transitionLogLevel ?? 'info';
  if (transitionLogLevel !== 'info' && transitionLogLevel !== 'debug') {
    throw new RangeError(
      `options.transitionLogLevel must be 'info' or 'debug', got ${String(transitionLogLevel)}`,
    );
  }
  return { numberOfSlots, defaultExecutor: options.defaultExecutor, cancellation, transitionLogLevel };
}

/** Throws TypeError naming `executors.<key>` for anything that is not an Executor. @internal */
export function validateExecutors(executors: unknown): asserts executors is Record<string, Executor> {
  if (typeof executors !== 'object' || executors === null || Array.isArray(executors)) {
    throw new TypeError('options.executors must be an object mapping names to executors');
  }
  const entries = Object.entries(executors);
  if (entries.length === 0) throw new RangeError('options.executors must name at least one executor');
  for (const [key, executor] of entries) {
    if (
      typeof executor !== 'object' ||
      executor === null ||
      typeof executor.launch !== 'function' ||
      typeof executor.close !== 'function' ||
      typeof executor.capabilities !== 'object' ||
      executor.capabilities === null
    ) {
      throw new TypeError(`options.executors.${key} must be an Executor (launch, close, capabilities)`);
    }
    const { hardStopMs } = executor.capabilities as { hardStopMs?: unknown };
    if (
      hardStopMs !== undefined &&
      (typeof hardStopMs !== 'number' ||
        !Number.isFinite(hardStopMs) ||
        hardStopMs < 0 ||
        hardStopMs > MAX_TIMER_MS)
    ) {
      throw new RangeError(
        `options.executors.${key}.capabilities.hardStopMs must be a number from 0 to ${MAX_TIMER_MS} ms, got ${String(hardStopMs)}`,
      );
    }
  }
}

/**
 * Throws a RangeError naming both values when `timings.timeoutMs` cannot cover the grace period plus
 * the executor's hard-stop bound (`capabilities.hardStopMs`): the watchdog would give up on work
 * that is still being stopped, and report it as fatal.
 * @internal
 */
export function checkTimingsCoverHardStop(
  timings: CancellationTimings,
  executor: Executor,
  executorKey: string,
  prefix: string,
): void {
  const { hardStop, hardStopMs } = executor.capabilities;
  if (!hardStop || hardStopMs === undefined || hardStopMs <= 0) return;
  const needed = timings.gracePeriodMs + hardStopMs;
  if (timings.timeoutMs < needed) {
    throw new RangeError(
      `${prefix}.timeoutMs (${timings.timeoutMs} ms) must cover ${prefix}.gracePeriodMs (${timings.gracePeriodMs} ms) ` +
        `plus the hard stop of executor '${executorKey}' (capabilities.hardStopMs: ${hardStopMs} ms), at least ${needed} ms`,
    );
  }
}

/**
 * Merges `override` onto `base` and validates; throws TypeError/RangeError naming `<prefix>.<field>`.
 * @internal
 */
export function resolveTimings(
  base: CancellationTimings,
  override: CancellationOptions | undefined,
  prefix: string,
): CancellationTimings {
  if (override === undefined) return base;
  if (typeof override !== 'object' || override === null) throw new TypeError(`${prefix} must be an object`);
  rejectUnknownKeys(override, CANCELLATION_KEYS, prefix);
  const timings = {
    interruptIntervalMs: override.interruptIntervalMs ?? base.interruptIntervalMs,
    gracePeriodMs: override.gracePeriodMs ?? base.gracePeriodMs,
    timeoutMs: override.timeoutMs ?? base.timeoutMs,
  };
  for (const [field, value] of Object.entries(timings)) {
    if (typeof value !== 'number') throw new TypeError(`${prefix}.${field} must be a number`);
    // gracePeriodMs may be 0 (hard stop at once); a 0 interval or watchdog would spin or fire at once.
    const min = field === 'gracePeriodMs' ? 0 : 1;
    if (!Number.isFinite(value) || value < min || value > MAX_TIMER_MS) {
      throw new RangeError(
        `${prefix}.${field} must be a number from ${min} to ${MAX_TIMER_MS} ms, got ${value}`,
      );
    }
  }
  if (timings.timeoutMs <= timings.gracePeriodMs) {
    throw new RangeError(
      `${prefix}.timeoutMs (${timings.timeoutMs}) must exceed ${prefix}.gracePeriodMs (${timings.gracePeriodMs})`,
    );
  }
  return Object.freeze(timings);
}
