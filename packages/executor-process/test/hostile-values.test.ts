import { ProcessExecutor } from '@taskwarden/executor-process';
import type { TaskRuntime } from '@taskwarden/sdk';
import { ErrorCode, NonErrorThrownError, SerializationError } from '@taskwarden/sdk';
import type { CapturedLogLine } from '@taskwarden/sdk/testing';
import { captureLogger } from '@taskwarden/sdk/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULTS, VALUES } from './fixtures/hostile.mjs';
import { fixture, PidLedger, startRuntime } from './helpers.js';

// Issue 14.4: hostile values through every door of the process executor. A task that throws,
// rejects, logs or returns one ends (FAILED with a typed error, or FINISHED when only its logging
// was hostile) without crashing the child runner or the host: one child process (reuse) serves
// every case, and the runtime still runs a plain task after each.

const hostile = fixture('hostile.mjs');

describe('hostile values in a child process', () => {
  let ledger: PidLedger;
  let executor: ProcessExecutor;
  let runtime: TaskRuntime;
  let lines: CapturedLogLine[];

  beforeAll(() => {
    ledger = new PidLedger();
    const captured = captureLogger('info');
    lines = captured.lines;
    executor = new ProcessExecutor({ spawn: ledger.spawn, reuse: true, maxProcesses: 1 });
    runtime = startRuntime(executor, { logger: captured.logger });
  });

  afterAll(async () => {
    await runtime.close();
    await executor.close();
    expect(ledger.cleanup()).toEqual([]);
  });

  function submit(input: unknown, module = hostile) {
    return runtime.submit({ jobId: 'job', allocationId: 'slot-0', invokable: { module }, input }).done;
  }

  /** The same child still serves: a plain task finishes and no second process was ever spawned. */
  async function expectStillServing(): Promise<void> {
    expect(await submit('still here', fixture('echo.mjs'))).toMatchObject({
      state: 'FINISHED',
      result: { echoed: 'still here' },
    });
    expect(executor.stats.spawned).toBe(1);
  }

  const nonErrors = Object.keys(VALUES).filter((name) => !name.startsWith('error'));

  describe.each(['throw', 'reject'])('a task that %ss', (how) => {
    it.each(nonErrors)('%s fails with NonErrorThrownError', async (value) => {
      const outcome = await submit({ how, value });
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error).toBeInstanceOf(NonErrorThrownError);
      expect(outcome.error).toMatchObject({ code: ErrorCode.NON_ERROR_THROWN });
      await expectStillServing();
    });

    it('an error whose message and stack getters throw fails with an Error', async () => {
      const outcome = await submit({ how, value: 'error with throwing message and stack' });
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error).toBeInstanceOf(Error);
      expect(outcome.error?.name).toBe('Error');
      await expectStillServing();
    });
  });

  it.each(Object.keys(VALUES))(
    'a task that logs %s finishes; the logger never throws into it',
    async (value) => {
      const before = lines.length;
      expect(await submit({ how: 'log', value })).toMatchObject({ state: 'FINISHED', result: 'logged' });
      // Each of its three calls left a record: the value, or why it could not be written.
      const records = lines.slice(before).filter((line) => line.level >= 40);
      expect(records.length).toBeGreaterThanOrEqual(3);
      await expectStillServing();
    },
  );

  it.each(Object.keys(RESULTS))(
    'a task that returns %s fails with SerializationError (result)',
    async (value) => {
      const outcome = await submit({ how: 'return', value });
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error).toBeInstanceOf(SerializationError);
      expect(outcome.error).toMatchObject({ what: 'result', code: ErrorCode.SERIALIZATION_FAILED });
      await expectStillServing();
    },
  );
});
