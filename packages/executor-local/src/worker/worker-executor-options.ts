import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import type { Logger } from '@taskwarden/sdk';
import type { TreeKillMode } from '@taskwarden/sdk/internal';
import { checkTreeKillOption } from '@taskwarden/sdk/internal';
import type { TreeKillOption } from './process-tree/tree-kill-setup.js';

/** Options of {@link WorkerExecutor}. */
export interface WorkerExecutorOptions {
  /**
   * Most worker threads alive at once, including threads still exiting after a hard stop. Tasks
   * beyond it wait in DEPLOYING, first come first served. Default `os.availableParallelism()`.
   */
  maxThreads?: number;
  /**
   * How long a thread may sit idle before it is terminated; `0` ends a thread as soon as no task
   * waits for it, `Infinity` keeps threads until `close()`. Default 30 000. Idle threads never keep
   * the process alive.
   */
  idleTimeoutMs?: number;
  /**
   * V8 limits for every thread (`worker_threads` `resourceLimits`). A task that exhausts the heap
   * fails with `WorkerExitedError`; the pool replaces the thread.
   */
  resourceLimits?: ResourceLimits;
  /**
   * How the processes worker tasks spawn are found and killed: `'auto'` takes the strongest this
   * machine allows (`'cgroup'`, then `'cookie'`, then `'process-group'`); naming a weaker mode
   * forces it (for tests). Naming a mode that is not available is a `RangeError` saying why. See the
   * README for what each mode reaches and what can escape it.
   * @default 'auto'
   */
  treeKill?: TreeKillOption;
  /**
   * Where the executor logs what is not any task's: one `info` line naming the tree-kill mode (and
   * why stronger ones are not available). Without one, that line goes to the logger of the first
   * task the executor launches.
   * @default undefined
   */
  logger?: Logger;
}

/** {@link WorkerExecutorOptions} after validation and defaults. @internal */
export interface ResolvedWorkerExecutorOptions {
  readonly maxThreads: number;
  readonly idleTimeoutMs: number;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly treeKill: 'auto' | TreeKillMode;
  readonly logger: Logger | undefined;
}

/** The default `idleTimeoutMs`. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

const OPTION_KEYS = new Set(['maxThreads', 'idleTimeoutMs', 'resourceLimits', 'treeKill', 'logger']);
const LIMIT_KEYS = new Set([
  'maxOldGenerationSizeMb',
  'maxYoungGenerationSizeMb',
  'codeRangeSizeMb',
  'stackSizeMb',
]);

/**
 * Validates the options up front; throws TypeError (wrong type, unknown option) or RangeError (out
 * of range) naming the option.
 * @internal
 */
export function resolveWorkerExecutorOptions(options: unknown): ResolvedWorkerExecutorOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(
      `WorkerExecutor options must be an object, got ${options === null ? 'null' : typeof options}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      throw new TypeError(`unknown WorkerExecutor option ${key} (known: ${[...OPTION_KEYS].join(', ')})`);
    }
  }
  const { maxThreads, idleTimeoutMs, resourceLimits, logger } = options as WorkerExecutorOptions;
  const treeKill = checkTreeKillOption((options as WorkerExecutorOptions).treeKill, 'treeKill');
  if (
    logger !== undefined &&
    (typeof logger !== 'object' ||
      logger === null ||
      typeof (logger as { info?: unknown }).info !== 'function')
  ) {
    throw new TypeError('logger must be a pino logger');
  }

  let threads: number;
  if (maxThreads === undefined) {
    threads = availableParallelism();
  } else {
    if (typeof maxThreads !== 'number') {
      throw new TypeError(`maxThreads must be an integer >= 1, got ${typeof maxThreads}`);
    }
    if (!Number.isSafeInteger(maxThreads) || maxThreads < 1) {
      throw new RangeError(`maxThreads must be an integer >= 1, got ${maxThreads}`);
    }
    threads = maxThreads;
  }

  let idle = DEFAULT_IDLE_TIMEOUT_MS;
  if (idleTimeoutMs !== undefined) {
    if (typeof idleTimeoutMs !== 'number') {
      throw new TypeError(`idleTimeoutMs must be a number >= 0 or Infinity, got ${typeof idleTimeoutMs}`);
    }
    if (Number.isNaN(idleTimeoutMs) || idleTimeoutMs < 0) {
      throw new RangeError(`idleTimeoutMs must be a number >= 0 or Infinity, got ${idleTimeoutMs}`);
    }
    // setTimeout cannot wait longer than 2^31-1 ms; anything above means "never".
    idle = idleTimeoutMs > 2 ** 31 - 1 ? Number.POSITIVE_INFINITY : idleTimeoutMs;
  }

  let limits: ResourceLimits | undefined;
  if (resourceLimits !== undefined) {
    if (typeof resourceLimits !== 'object' || resourceLimits === null || Array.isArray(resourceLimits)) {
      throw new TypeError('resourceLimits must be an object');
    }
    for (const [key, value] of Object.entries(resourceLimits)) {
      if (!LIMIT_KEYS.has(key)) {
        throw new TypeError(`unknown resourceLimits.${key} (known: ${[...LIMIT_KEYS].join(', ')})`);
      }
      if (value === undefined) continue;
      if (typeof value !== 'number') {
        throw new TypeError(`resourceLimits.${key} must be a number > 0, got ${typeof value}`);
      }
      if (!Number.isFinite(value) || value <= 0) {
        throw new RangeError(`resourceLimits.${key} must be a number > 0, got ${value}`);
      }
    }
    limits = Object.freeze({ ...resourceLimits });
  }

  return Object.freeze({
    maxThreads: threads,
    idleTimeoutMs: idle,
    resourceLimits: limits,
    treeKill,
    logger,
  });
}
