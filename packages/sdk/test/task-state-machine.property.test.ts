// Random interleavings of cancel, fail, completion, throwing, arming failures and executor faults,
// checked against a small model. Runs: NUM_RUNS per CI run (see below), each a sequence of up to
// 12 steps on one task.
import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { TRANSITIONS } from '../src/execution-state.js';
import type { ExecutionState } from '../src/index.js';
import { createRuntime, isTerminal } from '../src/index.js';
import {
  ManualScheduler,
  RecordingFatalErrorHandler,
  ScriptedExecutor,
  ThrowingScheduler,
} from '../src/testing/index.js';

/** Sequences per CI run; the file takes about three seconds on the 2-core CI machine. */
const NUM_RUNS = 5_000;

const T = { interruptIntervalMs: 10, gracePeriodMs: 40, timeoutMs: 100 };

type Step =
  | { kind: 'deploy' }
  | { kind: 'run' }
  | { kind: 'cancel' }
  | { kind: 'fail' }
  | { kind: 'finish' }
  | { kind: 'throw' }
  | { kind: 'advance'; ms: number }
  | { kind: 'breakTimers' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.constant({ kind: 'deploy' } as const),
  fc.constant({ kind: 'run' } as const),
  fc.constant({ kind: 'cancel' } as const),
  fc.constant({ kind: 'fail' } as const),
  fc.constant({ kind: 'finish' } as const),
  fc.constant({ kind: 'throw' } as const),
  fc.integer({ min: 1, max: 60 }).map((ms) => ({ kind: 'advance', ms }) as const),
  fc.constant({ kind: 'breakTimers' } as const),
);

interface Scenario {
  hardStop: boolean;
  killStops: boolean;
  cancelThrows: boolean;
  beforeStart: 'none' | 'cancel' | 'fail';
  steps: Step[];
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  hardStop: fc.boolean(),
  killStops: fc.boolean(),
  cancelThrows: fc.boolean(),
  beforeStart: fc.constantFrom('none', 'cancel', 'fail'),
  steps: fc.array(stepArb, { maxLength: 12 }),
});

/** What the design says should happen, computed without the runtime. */
class Model {
  state: ExecutionState = 'CREATED';
  workStopped = false;
  abandoned = false;
  cancellationRequested = false;
  now = 0;
  armedAt: number | undefined;
  timersBroken = false;
  /** cancel() or fail() found the task not yet terminal. */
  stopRequested = false;

  constructor(readonly scenario: Scenario) {}

  get working(): boolean {
    return this.state === 'DEPLOYING' || this.state === 'INITIALIZING' || this.state === 'RUNNING';
  }

  get settled(): boolean {
    return isTerminal(this.state) && (this.workStopped || this.abandoned);
  }

  arm(): void {
    if (this.armedAt !== undefined || this.workStopped || this.abandoned) return;
    if (this.timersBroken) {
      this.abandon();
      return;
    }
    this.armedAt = this.now;
  }

  abandon(): void {
    if (this.settled) return;
    this.abandoned = true;
    this.armedAt = undefined;
    if (!isTerminal(this.state)) this.state = 'FAILED';
  }

  cancel(): void {
    if (this.state === 'CREATED' || this.working) this.stopRequested = true;
    if (this.state === 'CREATED') {
      this.cancellationRequested = true;
      this.state = 'CANCELED';
      this.workStopped = true;
    } else if (this.working) {
      this.cancellationRequested = true;
      this.state = 'CANCELING';
      this.arm();
    }
  }

  fail(): void {
    if (!isTerminal(this.state)) this.stopRequested = true;
    if (this.state === 'CREATED') {
      this.state = 'FAILED';
      this.workStopped = true;
    } else if (this.state === 'CANCELING') {
      this.state = 'FAILED';
    } else if (this.working) {
      this.state = 'FAILED';
      this.arm();
    }
  }

  workEnds(ok: boolean): void {
    if (this.workStopped) return;
    this.workStopped = true;
    this.armedAt = undefined;
    if (this.abandoned) return;
    if (this.working) this.state = ok ? 'FINISHED' : 'FAILED';
    else if (this.state === 'CANCELING') this.state = ok ? 'FINISHED' : 'CANCELED';
  }

  advance(ms: number): void {
    const target = this.now + ms;
    if (this.armedAt !== undefined && !this.workStopped) {
      const killAt = this.armedAt + T.gracePeriodMs;
      const abandonAt = this.armedAt + T.timeoutMs;
      if (this.scenario.hardStop && this.scenario.killStops && killAt <= target) {
        this.now = killAt;
        this.workEnds(false);
      } else if (abandonAt <= target) {
        this.now = abandonAt;
        this.abandon();
      }
    }
    this.now = target;
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await Promise.resolve();
}

async function play(scenario: Scenario): Promise<void> {
  const manual = new ManualScheduler();
  const scheduler = new ThrowingScheduler(manual);
  const fatal = new RecordingFatalErrorHandler();
  const executor = new ScriptedExecutor({
    hardStop: scenario.hardStop,
    killStops: scenario.killStops,
    ...(scenario.cancelThrows ? { cancelError: new Error('cancel threw') } : {}),
  });
  const runtime = createRuntime({
    numberOfSlots: 1,
    executors: { scripted: executor },
    cancellation: T,
    scheduler,
    fatalErrorHandler: fatal,
    logger: pino({ level: 'silent' }),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'j', allocationId: 'a' });
  runtime.slotTable.markSlotActive('a');
  const transitions: Array<[ExecutionState, ExecutionState]> = [];
  runtime.events.on('taskStateChanged', ({ from, to }) => transitions.push([from, to]));

  const model = new Model(scenario);
  const task = runtime.submit({ jobId: 'j', allocationId: 'a', invokable: () => undefined });
  let settled = false;
  void task.done.then(() => {
    settled = true;
  });
  if (scenario.beforeStart === 'cancel') {
    task.cancel();
    model.cancel();
  } else if (scenario.beforeStart === 'fail') {
    task.fail(new Error('before start'));
    model.fail();
  }
  await flush();
  const execution = executor.launches[0];
  if (model.state === 'CREATED') {
    expect(execution).toBeDefined();
    model.state = 'DEPLOYING';
  } else {
    expect(execution).toBeUndefined();
  }

  for (const step of scenario.steps) {
    if (execution) {
      switch (step.kind) {
        case 'deploy':
          execution.deploy();
          await flush();
          if (model.state === 'DEPLOYING' && !model.workStopped) model.state = 'INITIALIZING';
          break;
        case 'run':
          if (execution.stopped) break;
          execution.run();
          await flush();
          if (model.state === 'DEPLOYING' || model.state === 'INITIALIZING') model.state = 'RUNNING';
          break;
        case 'finish':
          execution.finish('value');
          model.workEnds(true);
          break;
        case 'throw':
          execution.throw(new Error('thrown'));
          model.workEnds(false);
          break;
      }
    }
    switch (step.kind) {
      case 'cancel':
        task.cancel();
        model.cancel();
        break;
      case 'fail':
        task.fail(new Error('external'));
        model.fail();
        break;
      case 'advance':
        await manual.advanceAsync(step.ms);
        model.advance(step.ms);
        break;
      case 'breakTimers':
        scheduler.failFrom(1);
        model.timersBroken = true;
        break;
    }
    await flush();
    expect(task.state).toBe(model.state);
  }

  // Every task asked to stop is terminal, with `done` resolved, within timeoutMs of fake time.
  await manual.advanceAsync(T.timeoutMs);
  model.advance(T.timeoutMs);
  await flush();
  expect(task.state).toBe(model.state);
  expect(settled).toBe(model.settled);
  if (model.stopRequested) expect(model.settled).toBe(true);
  if (model.settled) {
    const outcome = await task.done;
    expect(outcome.state).toBe(model.state);
    expect(outcome.abandoned).toBe(model.abandoned);
    expect(outcome.cancellationRequested).toBe(model.cancellationRequested);
  }
  expect(fatal.errors.length).toBe(model.abandoned ? 1 : 0);
  // Legal transitions only, and exactly one terminal transition for a terminal task.
  for (const [from, to] of transitions) expect(TRANSITIONS[from]).toContain(to);
  const terminal = transitions.filter(([, to]) => isTerminal(to));
  expect(terminal.length).toBe(isTerminal(task.state) ? 1 : 0);
  if (model.settled) expect(manual.pendingCount).toBe(0);
}

describe('task state machine (model-based)', () => {
  it(`matches the model over ${NUM_RUNS} random interleavings`, async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, play), { numRuns: NUM_RUNS });
  }, 60_000);
});
