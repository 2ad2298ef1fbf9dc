// A closed runtime leaves nothing behind in what the integrator passed in: a slot table shared through
// the container keeps serving the other runtimes (issue 14.7), and a shared logger keeps no listener or
// reference to the closed runtime (issue 14.9).
import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EventEmitter } from 'eventemitter3';
import pino from 'pino';
import type { DependencyContainer } from 'tsyringe';
import { container as rootContainer } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import type { TaskSlotTable } from '../src/index.js';
import { createRuntime, DefaultTaskSlotTable, EmitOnlyFatalErrorHandler, Tokens } from '../src/index.js';
import { ManualScheduler, ScriptedExecutor } from '../src/testing/index.js';

const silent = pino({ level: 'silent' });

function sharing(table: TaskSlotTable): DependencyContainer {
  const container = rootContainer.createChildContainer();
  container.registerInstance<TaskSlotTable>(Tokens.TaskSlotTable, table);
  return container;
}

describe('closing one runtime of two that share a slot table', () => {
  it("stops only its own tasks; the other's running task and its slots are untouched", async () => {
    const table = new DefaultTaskSlotTable(
      { numberOfSlots: 2 },
      new ManualScheduler(),
      new EventEmitter(),
      silent,
    );
    const container = sharing(table);
    const executors = { a: new ScriptedExecutor(), b: new ScriptedExecutor() };
    const options = {
      numberOfSlots: 2,
      logger: silent,
      fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
      container,
    };
    const first = createRuntime({ ...options, executors: { main: executors.a } });
    const second = createRuntime({ ...options, executors: { main: executors.b } });
    table.allocateSlot({ index: 0, jobId: 'job-a', allocationId: 'slot-a' });
    table.markSlotActive('slot-a');
    table.allocateSlot({ index: 1, jobId: 'job-b', allocationId: 'slot-b' });
    table.markSlotActive('slot-b');
    const mine = first.submit({ jobId: 'job-a', allocationId: 'slot-a', invokable: () => 1 });
    const theirs = second.submit({ jobId: 'job-b', allocationId: 'slot-b', invokable: () => 2 });
    const mineRun = await executors.a.nextLaunch(0);
    const theirsRun = await executors.b.nextLaunch(0);
    mineRun.run();
    theirsRun.run();

    const closing = first.close();
    expect(mine.state).toBe('CANCELING');
    mineRun.throw(new Error('stopped'));
    // Closing must not wait for (or fail) the other runtime's work.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      closing,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("close() waited for the other runtime's task")), 5_000);
      }),
    ]);
    clearTimeout(timer);
    expect((await mine.done).state).toBe('CANCELED');
    // The other runtime's task runs on, in its slot, and that runtime can still allocate and submit.
    expect(theirs.state).toBe('RUNNING');
    expect(table.getSlotReport()).toEqual([
      { index: 0, state: 'ACTIVE', allocationId: 'slot-a', jobId: 'job-a' },
      { index: 1, state: 'ACTIVE', allocationId: 'slot-b', jobId: 'job-b' },
    ]);
    expect(table.freeSlot('slot-a')).toBe(0);
    expect(table.allocateSlot({ index: 0, jobId: 'job-b', allocationId: 'slot-b2' })).toBe(0);
    theirsRun.finish('still mine');
    expect(await theirs.done).toMatchObject({ state: 'FINISHED', result: 'still mine' });
    await second.close();
    table.checkInvariants();
  });
});

describe('a logger shared by many runtimes', () => {
  it('keeps no listener of a closed runtime, and closed runtimes can be collected', async () => {
    const logger = pino({ level: 'info' }, { write() {} });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    const refs: Array<WeakRef<object>> = [];
    const cycle = async () => {
      const runtime = createRuntime({ numberOfSlots: 1, executors: { s: new ScriptedExecutor() }, logger });
      refs.push(new WeakRef(runtime));
      await runtime.close();
    };
    try {
      for (let i = 0; i < 300; i++) await cycle();
      expect(logger.listenerCount('level-change')).toBe(0);
      await new Promise((resolve) => setImmediate(resolve));
      for (let i = 0; i < 3; i++) {
        collectGarbage();
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Nothing the integrator holds (the logger) keeps the closed runtimes alive.
      expect(refs.filter((ref) => ref.deref() !== undefined).length).toBeLessThan(5);
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

/** A full garbage collection, without starting the test process with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}
