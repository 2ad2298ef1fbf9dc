import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessExecutorOptions, SpawnFunction } from '@taskwarden/executor-process';
import { ProcessExecutor } from '@taskwarden/executor-process';
import type {
  BaseExecution,
  CancellationOptions,
  Execution,
  Executor,
  InvokableReference,
  TaskInfo,
  TaskRuntime,
} from '@taskwarden/sdk';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import type { CapturedLogLine } from '@taskwarden/sdk/testing';
import { captureLogger as captureLines, launchDirectly } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { afterEach, expect } from 'vitest';

/** Absolute path of a fixture module. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** Short real ladder timings for integration tests. */
export const FAST_LADDER: CancellationOptions = {
  interruptIntervalMs: 200,
  gracePeriodMs: 300,
  timeoutMs: 8_000,
};

/**
 * Every pid a test caused, from the spawn seam and from the fixtures' pid files, so the test can
 * prove by pid that all of them are gone (and clean up survivors if it fails).
 */
export class PidLedger {
  readonly #spawned = new Set<number>();
  readonly #files: string[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'taskwarden-process-test-'));
  #counter = 0;

  /** A `child_process.spawn` that records the pid of every child it starts. */
  readonly spawn: SpawnFunction = ((...args: Parameters<SpawnFunction>) => {
    const child = (spawn as (...a: unknown[]) => ChildProcess)(...args);
    if (child.pid !== undefined) this.#spawned.add(child.pid);
    return child;
  }) as SpawnFunction;

  /** A fresh, empty pid file for a fixture. */
  pidFile(): string {
    const file = join(this.dir, `pids-${this.#counter++}.jsonl`);
    writeFileSync(file, '');
    this.#files.push(file);
    return file;
  }

  /** Records a pid started outside the seam (a host process). */
  add(pid: number | undefined): void {
    if (pid !== undefined) this.#spawned.add(pid);
  }

  /** Entries a fixture wrote to `file`. */
  entries(file: string): Array<{ role: string; pid: number }> {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as { role: string; pid: number });
  }

  /** Pids of one role in `file`. */
  pidsOf(file: string, role: string): number[] {
    return this.entries(file)
      .filter((entry) => entry.role === role)
      .map((entry) => entry.pid);
  }

  /** Every pid seen: spawned children and whatever the fixtures recorded. */
  all(): number[] {
    const pids = new Set(this.#spawned);
    for (const file of this.#files) {
      for (const entry of this.entries(file)) {
        if (entry.role === 'child' || entry.role === 'grandchild' || entry.role === 'host')
          pids.add(entry.pid);
      }
    }
    return [...pids];
  }

  get spawnedPids(): number[] {
    return [...this.#spawned];
  }

  /** SIGKILLs whatever is still alive (by pid and by group) and removes the temp dir. */
  cleanup(): number[] {
    const survivors = this.all().filter((pid) => !isGone(pid));
    for (const pid of survivors) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    return survivors;
  }
}

/** True when no live process has this pid: ESRCH, or /proc says it is gone or a zombie. */
export function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** Resolves once every pid is gone; rejects naming the survivors after `ms`. */
export async function waitGone(pids: readonly number[], ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const alive = pids.filter((pid) => !isGone(pid));
    if (alive.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes still alive after ${ms} ms: ${alive.join(', ')}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` every 5 ms. */
export async function until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Waits until a fixture wrote `role` to its pid file. */
export function untilRecorded(ledger: PidLedger, file: string, role: string, ms?: number): Promise<void> {
  return until(() => ledger.entries(file).some((entry) => entry.role === role), `'${role}' in ${file}`, ms);
}

/** A pino logger keeping its records, parsed (the SDK's `captureLogger`, named for these tests). */
export function captureLogger(level = 'info'): { logger: pino.Logger; records: CapturedLogLine[] } {
  const { logger, lines } = captureLines(level);
  return { logger, records: lines };
}

/** What `startRuntime` takes besides the executor. */
export interface RuntimeOptions {
  cancellation?: CancellationOptions;
  logger?: pino.Logger;
  numberOfSlots?: number;
}

/** A runtime with one ACTIVE slot (`job`/`slot`) and the executor under `process`. */
export function startRuntime(executor: ProcessExecutor, options: RuntimeOptions = {}): TaskRuntime {
  const runtime = createRuntime({
    numberOfSlots: options.numberOfSlots ?? 1,
    executors: { process: executor },
    defaultExecutor: 'process',
    cancellation: options.cancellation ?? FAST_LADDER,
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: options.logger ?? pino({ level: 'silent' }),
  });
  for (let index = 0; index < (options.numberOfSlots ?? 1); index++) {
    runtime.slotTable.allocateSlot({ index, jobId: 'job', allocationId: `slot-${index}` });
    runtime.slotTable.markSlotActive(`slot-${index}`);
  }
  return runtime;
}

/** What every `setup()` of a {@link useProcessHarness} starts from, and what its `afterEach` checks. */
export interface ProcessHarnessDefaults {
  /** Executor options (after the ledger's `spawn`, before the test's own). */
  executor?: ProcessExecutorOptions;
  /** `startRuntime` options (before the test's own). */
  runtime?: RuntimeOptions;
  /** `afterEach` also expects the closed executor to hold no process. */
  expectNoProcesses?: boolean;
}

/** Where `submit` sends a task: a slot index, an export name, or both. */
export type SubmitTarget = number | string | { slot?: number; export?: string };

/**
 * The per-test harness of a `describe`: `setup()` makes a fresh {@link PidLedger}, a `ProcessExecutor`
 * spawning through it and a runtime; the `afterEach` it registers closes both and expects that no pid
 * the test caused survived. Call it in the `describe` body.
 */
export function useProcessHarness(defaults: ProcessHarnessDefaults = {}) {
  let ledger: PidLedger | undefined;
  let runtime: TaskRuntime | undefined;
  let executor: ProcessExecutor | undefined;

  function requireLedger(): PidLedger {
    if (!ledger) throw new Error('setup() first');
    return ledger;
  }

  function setup(options: ProcessExecutorOptions = {}, runtimeOptions: RuntimeOptions = {}) {
    ledger = new PidLedger();
    executor = new ProcessExecutor({ spawn: ledger.spawn, ...defaults.executor, ...options });
    runtime = startRuntime(executor, { ...defaults.runtime, ...runtimeOptions });
    return { executor, runtime };
  }

  /** Submits `module` (its `export`, if named) to slot `slot-<n>` (0 unless named) of job `job`. */
  function submit(module: string, input?: unknown, target: SubmitTarget = {}) {
    if (!runtime) throw new Error('setup() first');
    const { slot = 0, export: exportName } =
      typeof target === 'number'
        ? { slot: target }
        : typeof target === 'string'
          ? { export: target }
          : target;
    return runtime.submit({
      jobId: 'job',
      allocationId: `slot-${slot}`,
      invokable: exportName ? { module, export: exportName } : { module },
      input,
    });
  }

  /** Expects the runtime to still run a task to the end. */
  async function stillServes(): Promise<void> {
    const outcome = await submit(fixture('echo.mjs'), 'still here').done;
    expect(outcome).toMatchObject({ state: 'FINISHED', result: { echoed: 'still here' } });
  }

  afterEach(async () => {
    await runtime?.close();
    await executor?.close();
    if (defaults.expectNoProcesses) expect(executor?.stats.processes).toBe(0);
    runtime = undefined;
    executor = undefined;
    expect(requireLedger().cleanup()).toEqual([]);
  });

  return {
    setup,
    submit,
    stillServes,
    /** The ledger of the current test (its last `setup()`). */
    get ledger(): PidLedger {
      return requireLedger();
    },
    get runtime(): TaskRuntime | undefined {
      return runtime;
    },
    get executor(): ProcessExecutor | undefined {
      return executor;
    },
  };
}

/** A launch spec as these tests write it: what to run, and optionally who the task is. */
export interface DirectSpec {
  task?: Partial<TaskInfo>;
  invokable: InvokableReference;
  input?: unknown;
}

/**
 * Launches on `executor` without a runtime (`launchDirectly`) and returns the execution with its
 * `started`/`result` promises (every execution of this package is a `BaseExecution`).
 */
export function launch(executor: Executor, spec: DirectSpec): BaseExecution & Execution {
  const run = launchDirectly(executor, spec.task ? spec : { invokable: spec.invokable, input: spec.input });
  return run.execution as BaseExecution & Execution;
}
