import { ProcessExitedError } from '@taskwarden/executor-process';
import { ErrorCode, ProtocolError } from '@taskwarden/sdk';
import { isGone } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { captureLogger, fixture, untilRecorded, useProcessHarness } from './helpers.js';

describe('ProcessExecutor: crashing and misbehaving children', () => {
  const harness = useProcessHarness({ executor: { maxProcesses: 2 }, runtime: { numberOfSlots: 2 } });
  const { setup, submit, stillServes } = harness;

  it('a child that exits mid-task fails it with ProcessExitedError (exit code, stderr tail)', async () => {
    setup();
    const pidFile = harness.ledger.pidFile();
    const outcome = await submit(fixture('exit-mid-task.mjs'), { pidFile, code: 7, grandchild: true }).done;
    expect(outcome.state).toBe('FAILED');
    const error = outcome.error as ProcessExitedError;
    expect(error).toBeInstanceOf(ProcessExitedError);
    expect(error.code).toBe(ErrorCode.PROCESS_EXITED);
    expect(error).toMatchObject({ exitCode: 7, signal: null, killed: false });
    expect(error.pid).toBe(harness.ledger.pidsOf(pidFile, 'child')[0]);
    expect(error.stderrTail).toContain('about to die (exit)');
    expect(error.message).toContain('exited with code 7');
    // What the crashed child left in its group is not orphaned.
    for (const pid of harness.ledger.pidsOf(pidFile, 'grandchild')) expect(isGone(pid)).toBe(true);
    await stillServes();
  });

  it('reports the signal that ended a child', async () => {
    setup();
    const outcome = await submit(fixture('exit-mid-task.mjs'), { how: 'signal' }).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toMatchObject({ exitCode: null, signal: 'SIGKILL', killed: false });
  });

  it('keeps an uncaught exception that killed the child as the cause', async () => {
    setup();
    const outcome = await submit(fixture('exit-mid-task.mjs'), { how: 'throw' }).done;
    const error = outcome.error as ProcessExitedError;
    expect(error).toBeInstanceOf(ProcessExitedError);
    expect(error.exitCode).toBe(1);
    expect(error.stderrTail).toContain('thrown outside the task');
    expect(error.cause).toMatchObject({
      name: 'TypeError',
      message: 'thrown outside the task',
      code: 'E_OUTSIDE',
    });
  });

  it.each([
    ['raw', /malformed frame: bad frame header/],
    ['bad-payload', /malformed frame: undecodable frame/],
    ['shape', /malformed message: unknown message type/],
    ['other-task', /for task 999999 while running task/],
  ])('garbage on the control pipe (%s) fails only that task with a ProtocolError', async (mode, message) => {
    setup();
    const bystanderFile = harness.ledger.pidFile();
    const bystander = submit(fixture('cooperative.mjs'), { pidFile: bystanderFile }, 1);
    await untilRecorded(harness.ledger, bystanderFile, 'invoked');
    const pidFile = harness.ledger.pidFile();
    const outcome = await submit(fixture('garbage-ipc.mjs'), { pidFile, mode }).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProtocolError);
    expect(outcome.error?.message).toMatch(message);
    // The offending child was killed; the other task and the runtime are untouched.
    expect(isGone(harness.ledger.pidsOf(pidFile, 'child')[0] as number)).toBe(true);
    expect(bystander.state).toBe('RUNNING');
    await stillServes();
    bystander.cancel();
    expect((await bystander.done).state).toBe('CANCELED');
  });

  it('delivers the valid messages of a chunk before failing on the garbage that follows them', async () => {
    const captured = captureLogger();
    // The executor's own maxProcesses and a single slot, not this file's defaults.
    setup({ maxProcesses: undefined }, { numberOfSlots: 1, logger: captured.logger });
    const pidFile = harness.ledger.pidFile();
    const outcome = await submit(fixture('garbage-ipc.mjs'), { pidFile, mode: 'valid-then-garbage' }).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProtocolError);
    expect(outcome.error?.message).toMatch(/malformed frame: bad frame header/);
    // The log record that arrived in the same chunk, before the garbage, was not dropped.
    expect(captured.records.map((record) => record.msg)).toContain('logged before the garbage');
    expect(isGone(harness.ledger.pidsOf(pidFile, 'child')[0] as number)).toBe(true);
  });

  it('a successful result before RUNNING is a protocol error, not a FINISHED task that never ran', async () => {
    const { runtime } = setup();
    const transitions: string[] = [];
    runtime.events.on('taskStateChanged', ({ from, to }) => transitions.push(`${from}->${to}`));
    // The fixture claims task 1, the first of this fresh executor, before it even reports 'started'.
    const outcome = await submit(fixture('early-result.mjs')).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProtocolError);
    expect(outcome.error?.message).toMatch(/'result' out of order/);
    expect(transitions).not.toContain('INITIALIZING->RUNNING');
    await stillServes();
  });

  it('a well-shaped error that cannot be rebuilt is a ProtocolError for that task, not a host crash', async () => {
    setup();
    const pidFile = harness.ledger.pidFile();
    // Task 1 of a fresh executor: the fixture reports a failure for it with an error lacking `props`.
    const outcome = await submit(fixture('garbage-ipc.mjs'), { pidFile, mode: 'unreadable-error' }).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProtocolError);
    expect(outcome.error?.message).toMatch(/'result' with a malformed error|sent an unreadable 'result'/);
    expect(isGone(harness.ledger.pidsOf(pidFile, 'child')[0] as number)).toBe(true);
    await stillServes();
  });
});
