// An executor may cancel work on its own side (a cluster agent that drains cancels what it runs):
// the task then ends CANCELED, not FAILED, as if the runtime had asked.
import { describe, expect, it } from 'vitest';
import { TaskCancelledError } from '../src/index.js';
import { path, testRuntime } from './helpers.js';

describe('work cancelled where it ran', () => {
  it('a TaskCancelledError reported while RUNNING ends the task CANCELED, with cancellationRequested', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    const reason = new TaskCancelledError(task.executionId, 'cancelled: its agent is closing');
    execution.throw(reason);
    const outcome = await task.done;
    expect(outcome).toEqual({
      state: 'CANCELED',
      cancellationRequested: true,
      abandoned: false,
      error: reason,
    });
    expect(path(t.transitions, task.name)).toEqual([
      'CREATED',
      'DEPLOYING',
      'INITIALIZING',
      'RUNNING',
      'CANCELING',
      'CANCELED',
    ]);
  });

  it("another task's TaskCancelledError, rethrown by the work, fails the task", async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    execution.throw(new TaskCancelledError('some-other-task'));
    const outcome = await task.done;
    expect(outcome).toMatchObject({ state: 'FAILED', cancellationRequested: false });
  });

  it('any other error while RUNNING still fails the task', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    execution.throw(new Error('boom'));
    expect((await task.done).state).toBe('FAILED');
  });

  it('a task failed from outside stays FAILED when its executor then reports a cancellation', async () => {
    const t = testRuntime();
    const task = t.submit();
    const execution = await t.executor.nextLaunch();
    execution.run();
    const cause = new Error('external');
    task.fail(cause);
    execution.throw(new TaskCancelledError(task.executionId));
    const outcome = await task.done;
    expect(outcome.state).toBe('FAILED');
    expect(outcome.error).toBe(cause);
  });
});
