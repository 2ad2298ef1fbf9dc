/**
 * Shared set-up for the WorkerExecutor tests: a runtime with one ACTIVE slot and a WorkerExecutor
 * (imported from the built package, so the worker runner is real JavaScript), state recording,
 * and the end-of-test check that every thread a test started has ended:
 *
 * ```ts
 * await using h = startHarness({ executor: { maxThreads: 1 } });
 * ```
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkerExecutorOptions } from '@taskwarden/executor-local';
import { WorkerExecutor } from '@taskwarden/executor-local';
import type {
  CancellationOptions,
  ExecutionState,
  ModuleReference,
  Task,
  TaskDescriptor,
  TaskRuntime,
  TaskStuckEvent,
} from '@taskwarden/sdk';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import type { TreeKillMode } from '@taskwarden/sdk/internal';
import {
  detectTreeKill,
  isLiveState,
  ownCgroupDir,
  parseStat,
  TREE_KILL_MODES,
} from '@taskwarden/sdk/internal';
import type { CapturedLogLine } from '@taskwarden/sdk/testing';
import { captureLogger, isGone, until } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { expect } from 'vitest';

/** Short real ladder timings: interrupter 100 ms, hard stop 300 ms, watchdog 5 s. */
export const TIMINGS: Required<CancellationOptions> = {
  interruptIntervalMs: 100,
  gracePeriodMs: 300,
  timeoutMs: 5_000,
};

/**
 * For tasks that finish their work some milliseconds after a cancel (`finishesDespiteCancel`): a
 * grace period a loaded machine cannot overrun, so they end FINISHED, not hard-stopped.
 */
export const PATIENT: Required<CancellationOptions> = {
  interruptIntervalMs: 1_000,
  gracePeriodMs: 5_000,
  timeoutMs: 10_000,
};

/** Absolute path of a module in `test/fixtures/`. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** `{ module, export }` of a fixture. */
export function ref(file: string, exportName?: string): ModuleReference {
  return exportName === undefined ? { module: fixture(file) } : { module: fixture(file), export: exportName };
}

/** OS threads of this process (Linux), to prove worker threads really ended. */
export function osThreadCount(): number {
  return readdirSync('/proc/self/task').length;
}

/** Log lines written through a pino logger, parsed. */
export type LogLine = CapturedLogLine;

export { captureLogger };

/**
 * One runtime over one WorkerExecutor, with what the test observes. Disposing it closes the
 * runtime and checks that its threads are gone: none left in the executor's accounting, and the
 * process has no more OS threads than before the first harness started.
 */
export interface Harness extends AsyncDisposable {
  readonly runtime: TaskRuntime;
  readonly executor: WorkerExecutor;
  readonly fatal: EmitOnlyFatalErrorHandler;
  /** Every transition, per task name, in order. */
  readonly transitions: Array<{ name: string; from: ExecutionState; to: ExecutionState }>;
  readonly stuck: TaskStuckEvent[];
  submit(invokable: ModuleReference, input?: unknown, extra?: Partial<TaskDescriptor>): Task;
  /** The states task `name` went through, first one included. */
  path(name: string): string[];
}

let baselineThreads: number | undefined;

/** A logger that writes nothing, for executors whose own lines a test does not look at. */
export const QUIET: pino.Logger = pino({ level: 'silent' });

/** Starts a runtime with a WorkerExecutor; ends with the test's scope (`await using`). */
export function startHarness(
  options: {
    executor?: WorkerExecutorOptions;
    cancellation?: CancellationOptions;
    logger?: pino.Logger;
  } = {},
): Harness {
  baselineThreads ??= osThreadCount();
  // The executor's start-up line (its tree-kill mode) goes to a logger of its own, not to the
  // first task's, unless a test says otherwise: tests count the records of their tasks.
  const executor = new WorkerExecutor({ maxThreads: 2, logger: QUIET, ...options.executor });
  const fatal = new EmitOnlyFatalErrorHandler();
  const runtime = createRuntime({
    numberOfSlots: 1,
    executors: { worker: executor },
    cancellation: options.cancellation ?? TIMINGS,
    fatalErrorHandler: fatal,
    logger: options.logger ?? pino({ level: 'silent' }),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  const transitions: Harness['transitions'] = [];
  const stuck: TaskStuckEvent[] = [];
  runtime.events.on('taskStateChanged', ({ task, from, to }) =>
    transitions.push({ name: task.name, from, to }),
  );
  runtime.events.on('taskStuck', (event) => stuck.push(event));
  let count = 0;
  const harness: Harness = {
    runtime,
    executor,
    fatal,
    transitions,
    stuck,
    submit: (invokable, input, extra = {}) =>
      runtime.submit({ jobId: 'job', allocationId: 'slot', name: `t${count++}`, invokable, input, ...extra }),
    path: (name) => {
      const steps = transitions.filter((step) => step.name === name);
      return steps.length === 0 ? [] : [steps[0]?.from as string, ...steps.map((step) => step.to)];
    },
    [Symbol.asyncDispose]: async () => {
      await runtime.close();
      expect(executor.threadCount).toBe(0);
      expect(executor.stats).toEqual({ threads: 0, busy: 0, idle: 0, exiting: 0, queued: 0 });
      await threadsEnded();
    },
  };
  return harness;
}

/** Resolves once the process has no more OS threads than before the first harness started. */
export async function threadsEnded(): Promise<void> {
  if (baselineThreads === undefined) return;
  // Threads are joined right after 'exit'; give the OS a moment to drop them from /proc.
  await until(() => osThreadCount() <= (baselineThreads as number), 'the OS threads to end', 2_000);
}

/** The tree-kill modes this machine supports, strongest first. */
export function treeKillModesHere(): TreeKillMode[] {
  return TREE_KILL_MODES.slice(TREE_KILL_MODES.indexOf(detectTreeKill().mode));
}

/** The worker threads' cgroups that host `hostPid` created and that still exist. */
export function threadCgroupsLeftBy(hostPid: number): string[] {
  const own = ownCgroupDir();
  if (!('dir' in own)) return [];
  return readdirSync(own.dir).filter((name) => name.startsWith(`taskwarden-${hostPid}-worker-`));
}

/** Live (non-zombie) children of this process: what tasks spawned and did not hand over. */
export function liveChildren(): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { state, ppid } = parseStat(readFileSync(`/proc/${entry}/stat`, 'latin1'));
      if (ppid === process.pid && isLiveState(state)) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** Sentinels a worker thread of this process started (see process-tree/sentinel.ts), alive. */
export function sentinels(hostPid = process.pid): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'latin1').split('\0');
      if (argv.includes('taskwarden-sentinel') && argv.includes(String(hostPid)) && !isGone(Number(entry))) {
        found.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The pid a fixture wrote to `file`, or undefined while there is none. */
export function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pids a fixture wrote to `file`, one a line; none while the file does not exist. */
export function readPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** `using _ = killsOnExit(pids)`: SIGKILLs whichever of `pids()` still runs when the scope ends. */
export function killsOnExit(pids: () => readonly number[]): Disposable {
  return {
    [Symbol.dispose]() {
      for (const pid of pids()) if (!isGone(pid)) process.kill(pid, 'SIGKILL');
    },
  };
}
