import { ProcessExitedError } from '@taskwarden/executor-process';
import { ErrorCode, ProtocolError } from '@taskwarden/sdk';
import { until, waitGone } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { fixture, untilRecorded, useProcessHarness } from './helpers.js';

describe('ProcessExecutor: a child that closes its control pipe (fd 3)', () => {
  const harness = useProcessHarness({
    executor: { maxProcesses: 2 },
    runtime: { numberOfSlots: 2 },
    expectNoProcesses: true,
  });
  const { setup, submit, stillServes } = harness;

  it('while it runs a task: the task fails with ProtocolError and its group is killed', async () => {
    const { runtime } = setup();
    const transitions: string[] = [];
    runtime.events.on('taskStateChanged', ({ from, to }) => transitions.push(`${from}->${to}`));
    const bystanderFile = harness.ledger.pidFile();
    const bystander = submit(fixture('cooperative.mjs'), { pidFile: bystanderFile }, 1);
    await untilRecorded(harness.ledger, bystanderFile, 'invoked');
    const pidFile = harness.ledger.pidFile();
    const outcome = await submit(fixture('closes-control-pipe.mjs'), { pidFile, grandchild: true }).done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBeInstanceOf(ProtocolError);
    expect(outcome.error).toMatchObject({ code: ErrorCode.PROTOCOL_ERROR });
    const [pid] = harness.ledger.pidsOf(pidFile, 'child');
    expect(outcome.error?.message).toBe(`child ${pid} closed its control pipe while still running`);
    expect(transitions).toContain('RUNNING->FAILED');
    // The child and what it started in its group are gone; the other task and the runtime go on.
    await waitGone([
      ...harness.ledger.pidsOf(pidFile, 'child'),
      ...harness.ledger.pidsOf(pidFile, 'grandchild'),
    ]);
    expect(bystander.state).toBe('RUNNING');
    await stillServes();
    bystander.cancel();
    expect((await bystander.done).state).toBe('CANCELED');
  });

  it('while its process idles (reuse): the process is retired and the next task runs elsewhere', async () => {
    setup({ reuse: true, maxProcesses: 1 });
    const pidFile = harness.ledger.pidFile();
    const first = await submit(fixture('closes-control-pipe.mjs'), { pidFile, when: 'idle', delayMs: 30 })
      .done;
    expect(first.state).toBe('FINISHED');
    const firstPid = first.result as number;
    await waitGone([firstPid]);
    await until(() => harness.executor?.stats.processes === 0, 'the retired process to be gone');
    const next = await submit(fixture('echo.mjs'), 'next').done;
    expect(next).toMatchObject({ state: 'FINISHED', result: { echoed: 'next', pid: expect.any(Number) } });
    expect((next.result as { pid: number }).pid).not.toBe(firstPid);
  });

  it('a child that exits or crashes (its pipe closes too) still fails with ProcessExitedError', async () => {
    setup();
    for (let round = 0; round < 5; round++) {
      const exited = await submit(fixture('exit-mid-task.mjs'), { code: 7 }).done;
      expect(exited.error).toBeInstanceOf(ProcessExitedError);
      expect(exited.error).toMatchObject({ exitCode: 7, killed: false });
      const signalled = await submit(fixture('exit-mid-task.mjs'), { how: 'signal' }).done;
      expect(signalled.error).toBeInstanceOf(ProcessExitedError);
      expect(signalled.error).toMatchObject({ signal: 'SIGKILL', killed: false });
      const thrown = await submit(fixture('exit-mid-task.mjs'), { how: 'throw' }).done;
      expect(thrown.error).toBeInstanceOf(ProcessExitedError);
      expect(thrown.error).toMatchObject({ exitCode: 1, cause: { message: 'thrown outside the task' } });
    }
    await stillServes();
  });
});
