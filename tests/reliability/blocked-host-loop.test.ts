// Issue 14.5 with real threads and processes: `cancel()` followed by a synchronous block of the host
// longer than timeoutMs. Work that stops at once must end CANCELED (its outcome was waiting to be read
// when the late timers ran); deaf work must get its hard stop before the watchdog gives up. A blocked
// host delays the ladder; it never skips a stage, reorders them, or turns stopped work into a fatal.
// The same holds when the block begins once the hard stop has started (the fault-injection suite's
// host blocks after cancels met it there): the hard stop was begun on time, but finishing it takes
// the host's event loop (reading the thread's or child's exit, sweeping what the task spawned), so
// it must get its bound once the host runs again, not be given up for time the host spent blocked.
// After each test no thread is left and no process of the test runs (a /proc check).
import { WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import type { Executor, TaskRuntime } from '@taskwarden/sdk';
import { createRuntime } from '@taskwarden/sdk';
import { RecordingFatalErrorHandler, tempDir, until } from '@taskwarden/sdk/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { blockHost, fixture, ProcessLedger, readInvocations, silentLogger } from './helpers.js';

const TIMINGS = { interruptIntervalMs: 200, gracePeriodMs: 500, timeoutMs: 3_000 };
/** Longer than timeoutMs: every ladder timer is overdue when the host wakes up. */
const BLOCK_MS = 3_200;
/** From just after the hard stop began (at gracePeriodMs) to 200 ms past the watchdog's time. */
const BLOCK_AFTER_HARD_STOP_MS = TIMINGS.timeoutMs - TIMINGS.gracePeriodMs + 200;

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

function setup(name: 'worker' | 'process') {
  // Every child the process executor starts goes through the ledger: checked gone (in /proc) after.
  const ledger = new ProcessLedger();
  const executor: Executor =
    name === 'worker'
      ? new WorkerExecutor({ maxThreads: 2 })
      : new ProcessExecutor({ maxProcesses: 2, killGraceMs: 200, spawn: ledger.spawn });
  const fatal = new RecordingFatalErrorHandler();
  const runtime: TaskRuntime = createRuntime({
    numberOfSlots: 1,
    executors: { [name]: executor },
    cancellation: TIMINGS,
    fatalErrorHandler: fatal,
    logger: silentLogger(),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  const dir = tempDir('blocked-host');
  const log = dir.file('invocations.log');
  cleanup.push(async () => {
    try {
      await runtime.close({ graceMs: 0 });
      if (executor instanceof WorkerExecutor) expect(executor.threadCount).toBe(0);
      if (executor instanceof ProcessExecutor) {
        expect(executor.pids).toEqual([]);
        expect(ledger.spawned.size).toBeGreaterThan(0);
      }
      await ledger.waitAllGone(2_000);
    } finally {
      ledger.killSurvivors();
      dir.remove();
    }
  });
  const submit = (behaviour: string, id: string) =>
    runtime.submit({
      jobId: 'job',
      allocationId: 'slot',
      name: id,
      invokable: { module: fixture('behaviours.mjs'), export: behaviour },
      input: { id, log, ms: 60_000 },
    });
  return { runtime, fatal, submit, log };
}

describe.each(['worker', 'process'] as const)('a host blocked after cancel() (%s)', (name) => {
  it('work that stops at once ends CANCELED, not abandoned; health stays running', async () => {
    const { runtime, fatal, submit, log } = setup(name);
    const task = submit('cooperative', 'cooperative');
    await until(() => task.state === 'RUNNING' && readInvocations(log).length === 1, 'the task to run');
    task.cancel();
    blockHost(BLOCK_MS);
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', abandoned: false, cancellationRequested: true });
    expect(fatal.errors).toEqual([]);
    expect(runtime.health).toBe('running');
  });

  it('deaf work gets its hard stop before the watchdog: CANCELED, not abandoned', async () => {
    const { runtime, fatal, submit, log } = setup(name);
    const task = submit('cpuDeaf', 'deaf');
    await until(() => task.state === 'RUNNING' && readInvocations(log).length === 1, 'the task to run');
    task.cancel();
    blockHost(BLOCK_MS);
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'CANCELED', abandoned: false });
    expect(fatal.errors).toEqual([]);
    expect(runtime.health).toBe('running');
  });
});

describe.each([
  ['worker', 'cpuDeaf'],
  ['process', 'cpuDeaf'],
  // SIGTERM-deaf: the hard stop needs its SIGKILL timer, which can only fire once the host runs.
  ['process', 'termDeaf'],
] as const)('a host blocked once the hard stop began (%s, %s)', (name, behaviour) => {
  it('deaf work still ends CANCELED, not abandoned: the hard stop gets its bound once the host runs; health stays running', async () => {
    const { runtime, fatal, submit, log } = setup(name);
    let blockedAt: string | undefined;
    runtime.events.on('taskCancellationStage', ({ stage }) => {
      // The stage is reported right before kill() is called: block once the listener's caller has
      // returned (kill() begun), before the loop can see the work end (a SIGTERM may end it at once).
      if (stage === 'hard_stop') {
        queueMicrotask(() => {
          blockedAt = stage;
          blockHost(BLOCK_AFTER_HARD_STOP_MS);
        });
      }
    });
    const task = submit(behaviour, 'deaf');
    await until(() => task.state === 'RUNNING' && readInvocations(log).length === 1, 'the task to run');
    task.cancel();
    const outcome = await task.done;
    expect(blockedAt).toBe('hard_stop');
    expect(outcome).toMatchObject({ state: 'CANCELED', abandoned: false });
    expect(fatal.errors).toEqual([]);
    expect(runtime.health).toBe('running');
  });
});
