// Issue 14.6: timings that cannot hold are refused. An executor says how long its hard stop may take
// (capabilities.hardStopMs); a runtime or descriptor whose timeoutMs cannot cover gracePeriodMs plus
// that bound would make the watchdog abandon work that is still being stopped, and report it fatal.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createRuntime, EmitOnlyFatalErrorHandler, ErrorCode, InvalidDescriptorError } from '../src/index.js';
import { ScriptedExecutor } from '../src/testing/index.js';

const silent = pino({ level: 'silent' });

describe('timings against the hard-stop bound of the executor', () => {
  it('createRuntime refuses a timeoutMs below gracePeriodMs + hardStopMs, naming both values', () => {
    const make = () =>
      createRuntime({
        numberOfSlots: 1,
        executors: { proc: new ScriptedExecutor({ hardStop: true, hardStopMs: 5_500 }) },
        cancellation: { interruptIntervalMs: 200, gracePeriodMs: 500, timeoutMs: 3_000 },
        logger: silent,
      });
    expect(make).toThrow(RangeError);
    expect(make).toThrow(
      /timeoutMs \(3000 ms\).*gracePeriodMs \(500 ms\).*hardStopMs: 5500 ms.*at least 6000 ms/,
    );
  });

  it('accepts timings that cover it exactly, and executors without a hard stop are not checked', async () => {
    const runtime = createRuntime({
      numberOfSlots: 1,
      executors: {
        proc: new ScriptedExecutor({ hardStop: true, hardStopMs: 2_500 }),
        soft: new ScriptedExecutor({ hardStop: false, hardStopMs: 1_000_000 }),
      },
      cancellation: { interruptIntervalMs: 200, gracePeriodMs: 500, timeoutMs: 3_000 },
      logger: silent,
      fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    });
    await runtime.close();
  });

  it('a descriptor whose own timings cannot cover it is refused before anything runs', async () => {
    const executor = new ScriptedExecutor({ hardStop: true, hardStopMs: 1_000 });
    const runtime = createRuntime({
      numberOfSlots: 1,
      executors: { proc: executor },
      cancellation: { interruptIntervalMs: 200, gracePeriodMs: 500, timeoutMs: 5_000 },
      logger: silent,
      fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    });
    runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
    runtime.slotTable.markSlotActive('slot');
    const submit = () =>
      runtime.submit({
        jobId: 'job',
        allocationId: 'slot',
        invokable: () => 1,
        cancellation: { gracePeriodMs: 4_500 },
      });
    expect(submit).toThrow(InvalidDescriptorError);
    expect(submit).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_DESCRIPTOR }));
    expect(submit).toThrow(/timeoutMs \(5000 ms\).*gracePeriodMs \(4500 ms\).*1000 ms/);
    await Promise.resolve();
    expect(executor.launches).toEqual([]);
    expect(runtime.slotTable.getTasks('slot')).toEqual([]);
    await runtime.close();
  });

  it('refuses a hardStopMs that is not a bounded number, naming the executor', () => {
    for (const hardStopMs of [-1, Number.NaN, 2 ** 31, '5' as unknown as number]) {
      const executor = new ScriptedExecutor({ hardStop: true });
      Object.assign(executor.capabilities, { hardStopMs });
      expect(() =>
        createRuntime({ numberOfSlots: 1, executors: { proc: executor }, logger: silent }),
      ).toThrow(/options\.executors\.proc\.capabilities\.hardStopMs/);
    }
  });
});
