import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import type { TreeKillMode } from '@taskwarden/sdk/internal';
import { detectTreeKill, ownCgroupDir, TREE_KILL_MODES } from '@taskwarden/sdk/internal';
import type { CapturedLogLine, TempDir } from '@taskwarden/sdk/testing';
import {
  captureLogger as captureLines,
  isGone,
  isProcessGone,
  launchDirectly,
  processStartTicks,
  tempDir,
  until,
} from '@taskwarden/sdk/testing';
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
  /**
   * When each pid's process started, read as soon as the ledger learns of it (while it lives), so
   * that a pid reused by another process later (another test's) is neither reported nor killed.
   */
  readonly #startTicks = new Map<number, number | undefined>();
  readonly #files: string[] = [];
  readonly #dir: TempDir = tempDir('process-test');
  /** A fresh temporary directory, removed by {@link cleanup}. */
  readonly dir = this.#dir.path;
  #counter = 0;

  /** A `child_process.spawn` that records the pid of every child it starts. */
  readonly spawn: SpawnFunction = ((...args: Parameters<SpawnFunction>) => {
    const child = (spawn as (...a: unknown[]) => ChildProcess)(...args);
    if (child.pid !== undefined) this.#learn(child.pid, this.#spawned);
    return child;
  }) as SpawnFunction;

  /** A fresh, empty pid file for a fixture. */
  pidFile(): string {
    const file = this.#dir.file(`pids-${this.#counter++}.jsonl`);
    writeFileSync(file, '');
    this.#files.push(file);
    return file;
  }

  /** Records a pid started outside the seam (a host process). */
  add(pid: number | undefined): void {
    if (pid !== undefined) this.#learn(pid, this.#spawned);
  }

  #learn(pid: number, into?: Set<number>): void {
    into?.add(pid);
    if (!this.#startTicks.has(pid)) this.#startTicks.set(pid, processStartTicks(pid));
  }

  /** Entries a fixture wrote to `file`. */
  entries(file: string): Array<{ role: string; pid: number }> {
    const entries = readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as { role: string; pid: number });
    for (const entry of entries) if (entry.role !== 'invoked') this.#learn(entry.pid);
    return entries;
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
        if (entry.role !== 'invoked') pids.add(entry.pid);
      }
    }
    return [...pids];
  }

  get spawnedPids(): number[] {
    return [...this.#spawned];
  }

  /** SIGKILLs whatever is still alive (by pid and by group) and removes the temp dir. */
  cleanup(): number[] {
    const survivors = this.all().filter((pid) => !isProcessGone(pid, this.#startTicks.get(pid)));
    for (const pid of survivors) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    this.#dir[Symbol.dispose]();
    return survivors;
  }
}

/** A {@link ProcessExecutor} spawning through its own {@link PidLedger}, disposable. */
export interface ExecutorHarness extends AsyncDisposable {
  readonly ledger: PidLedger;
  readonly executor: ProcessExecutor;
}

/**
 * `await using run = executorHarness({ killGraceMs: 200 })`: an executor spawning through a fresh
 * ledger; disposing it closes the executor and expects that no pid the test caused survived (it
 * kills survivors first, by pid and group).
 */
export function executorHarness(options: ProcessExecutorOptions = {}): ExecutorHarness {
  const ledger = new PidLedger();
  const executor = new ProcessExecutor({ spawn: ledger.spawn, ...options });
  return {
    ledger,
    executor,
    async [Symbol.asyncDispose]() {
      await executor.close();
      expect(ledger.cleanup()).toEqual([]);
    },
  };
}

/** The ways `fixtures/escapes.mjs` has of leaving the child's process group or session. */
export const ESCAPE_WAYS = ['timeout-job', 'bash-m-job', 'setsid-daemon', 'detached', 'env-cleared-daemon'];

/** What each tree-kill mode lets escape, as the README says. */
export const ESCAPES: Record<TreeKillMode, readonly string[]> = {
  cgroup: [],
  // Left the session, and no cookie in its environment.
  cookie: ['env-cleared-daemon'],
  // Everything that left the process group.
  'process-group': ESCAPE_WAYS,
};

/** The tree-kill modes this machine supports, strongest first. */
export function treeKillModesHere(): TreeKillMode[] {
  return TREE_KILL_MODES.slice(TREE_KILL_MODES.indexOf(detectTreeKill().mode));
}

/** The cgroups that processes of host `ownerPid` created and that still exist (this process's cgroup dir). */
export function cgroupsLeftBy(ownerPid: number): string[] {
  const own = ownCgroupDir();
  if (!('dir' in own)) return [];
  return readdirSync(own.dir).filter((name) => name.startsWith(`taskwarden-${ownerPid}-`));
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
