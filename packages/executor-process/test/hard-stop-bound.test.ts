import { ProcessExecutor, ProcessExitedError } from '@taskwarden/executor-process';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import { launchDirectly } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ESCAPE_WAYS,
  ESCAPES,
  FAST_LADDER,
  fixture,
  PidLedger,
  treeKillModesHere,
  untilRecorded,
} from './helpers.js';

// Issue 14.6: `capabilities.hardStopMs` is a true upper bound of kill() → outcome (SIGTERM, the
// grace, SIGKILL, the tree kill, reaping), and every timing this package's README and tests suggest
// is valid with the default options (the runtime refuses `timeoutMs < gracePeriodMs + hardStopMs`).

function runtimeWith(executor: ProcessExecutor, cancellation: object) {
  return createRuntime({
    numberOfSlots: 1,
    executors: { process: executor },
    cancellation,
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: pino({ level: 'silent' }),
  });
}

describe('the hard-stop bound', () => {
  let ledger: PidLedger | undefined;
  let executor: ProcessExecutor | undefined;

  afterEach(async () => {
    await executor?.close();
    executor = undefined;
    if (ledger) expect(ledger.cleanup()).toEqual([]);
    ledger = undefined;
  });

  it.each([
    [undefined, 2_500],
    [0, 500],
    [100, 600],
    [10_000, 10_500],
  ])('is killGraceMs (%s) + 500 ms', (killGraceMs, bound) => {
    expect(
      new ProcessExecutor(killGraceMs === undefined ? {} : { killGraceMs }).capabilities.hardStopMs,
    ).toBe(bound);
  });

  it('makes the timings the README and these tests suggest valid with the default options', async () => {
    for (const cancellation of [
      { interruptIntervalMs: 200, gracePeriodMs: 500, timeoutMs: 3_000 }, // the README's test timings
      { interruptIntervalMs: 5_000, gracePeriodMs: 10_000, timeoutMs: 60_000 }, // the README's example
      FAST_LADDER,
      {}, // the runtime's defaults
    ]) {
      await runtimeWith(new ProcessExecutor(), cancellation).close();
    }
    // And one millisecond less than the bound is refused, naming both values.
    expect(() => runtimeWith(new ProcessExecutor(), { gracePeriodMs: 500, timeoutMs: 2_999 })).toThrow(
      /gracePeriodMs \(500 ms\).*hardStopMs: 2500 ms/,
    );
  });

  it.each(treeKillModesHere())(
    'holds for a SIGTERM-deaf tree with descendants outside the group (%s)',
    async (mode) => {
      ledger = new PidLedger();
      executor = new ProcessExecutor({ spawn: ledger.spawn, treeKill: mode, killGraceMs: 300 });
      const pidFile = ledger.pidFile();
      const run = launchDirectly(executor, {
        invokable: { module: fixture('escapes.mjs') },
        // Those the mode cannot reach would outlive the stop; the bound is about what it stops.
        input: { pidFile, ways: ESCAPE_WAYS.filter((way) => !ESCAPES[mode].includes(way)) },
      });
      await untilRecorded(ledger, pidFile, 'invoked');
      const startedAt = Date.now();
      await run.execution.kill?.();
      const outcome = await run.outcome;
      const tookMs = Date.now() - startedAt;
      expect(outcome.ok).toBe(false);
      expect(outcome.ok ? undefined : outcome.error).toBeInstanceOf(ProcessExitedError);
      // The conformance suite's slack for a loaded machine (it checks the same bound).
      expect(tookMs).toBeLessThanOrEqual((executor.capabilities.hardStopMs as number) + 1_000);
    },
  );
});
