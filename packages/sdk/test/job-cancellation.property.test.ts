// Random jobs and random cancel timings: the report always lists every task the cancellation found
// unfinished plus every late submission, the job always ends CANCELED, and tasks that had not
// started are never launched. NUM_RUNS jobs per CI run.
import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Task } from '../src/index.js';
import { createRuntime, isTerminal } from '../src/index.js';
import type { ScriptedExecution } from '../src/testing/index.js';
import { ManualScheduler, RecordingFatalErrorHandler, ScriptedExecutor } from '../src/testing/index.js';

const NUM_RUNS = 1_000;
const T = { interruptIntervalMs: 20, gracePeriodMs: 50, timeoutMs: 200 };

type Behaviour = 'finishes' | 'throws' | 'cooperative' | 'deaf' | 'slowCooperative';

interface TaskPlan {
  behaviour: Behaviour;
  /** When the work ends on its own (finishes / throws), in fake ms after launch. */
  endsAt: number;
  /** Submitted after this many ms (tasks submitted at the cancel time are never started). */
  submitAt: number;
}

const planArb = fc.record({
  behaviour: fc.constantFrom<Behaviour>('finishes', 'throws', 'cooperative', 'deaf', 'slowCooperative'),
  endsAt: fc.integer({ min: 0, max: 120 }),
  submitAt: fc.integer({ min: 0, max: 60 }),
});

const jobArb = fc.record({
  hardStop: fc.boolean(),
  cancelAt: fc.integer({ min: 0, max: 80 }),
  tasks: fc.array(planArb, { minLength: 0, maxLength: 8 }),
  lateSubmissions: fc.integer({ min: 0, max: 3 }),
});

type Job = typeof jobArb extends fc.Arbitrary<infer TJob> ? TJob : never;

async function play(job: Job) {
  const scheduler = new ManualScheduler();
  const executor = new ScriptedExecutor({ hardStop: job.hardStop });
  const runtime = createRuntime({
    numberOfSlots: 1,
    executors: { scripted: executor },
    cancellation: T,
    scheduler,
    fatalErrorHandler: new RecordingFatalErrorHandler(),
    logger: pino({ level: 'silent' }),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');

  const plans = new Map<Task, TaskPlan>();
  const executions = new Map<ScriptedExecution, TaskPlan>();
  const submit = (plan: TaskPlan) => {
    const task = runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 0 });
    plans.set(task, plan);
    return task;
  };
  // Wire each launch to its plan: work that ends on its own, and how it reacts to cancel().
  const launched = executor.launches;
  const wire = () => {
    for (const execution of launched) {
      if (executions.has(execution)) continue;
      const plan = [...plans.entries()].find(
        ([task]) => task.executionId === execution.spec.task.executionId,
      )?.[1];
      if (!plan) continue;
      executions.set(execution, plan);
      execution.run();
      if (plan.behaviour === 'finishes') scheduler.schedule(plan.endsAt, () => execution.finish('done'));
      if (plan.behaviour === 'throws')
        scheduler.schedule(plan.endsAt, () => execution.throw(new Error('own failure')));
      execution.cancel = (reason: Error) => {
        execution.cancelCalls.push(reason);
        if (plan.behaviour === 'cooperative') execution.throw(reason);
        if (plan.behaviour === 'slowCooperative')
          scheduler.schedule(plan.endsAt, () => execution.throw(reason));
      };
    }
  };

  const settle = async () => {
    for (let i = 0; i < 4; i++) await Promise.resolve();
    wire();
  };

  // Submissions over time, then the cancel, then late submissions.
  for (const plan of job.tasks.filter((p) => p.submitAt < job.cancelAt)) {
    scheduler.schedule(plan.submitAt, () => submit(plan));
  }
  for (let ms = 0; ms < job.cancelAt; ms++) {
    await scheduler.advanceAsync(1);
    await settle();
  }
  const liveAtCancel = [...plans.keys()].filter((task) => !isTerminal(task.state));
  const notStarted = liveAtCancel.filter((task) => task.state === 'CREATED');
  const jobEvents: string[] = [];
  runtime.events.on('jobStateChanged', ({ from, to }) => jobEvents.push(`${from}->${to}`));

  const report = runtime.cancelJob('job');
  // Tasks submitted in the same turn as the cancel (submitAt === cancelAt) count as late.
  const late = [
    ...job.tasks.filter((p) => p.submitAt >= job.cancelAt).map((plan) => submit(plan)),
    ...Array.from({ length: job.lateSubmissions }, () =>
      submit({ behaviour: 'finishes', endsAt: 0, submitAt: 0 }),
    ),
  ];
  let resolved = false;
  void report.then(() => {
    resolved = true;
  });
  for (let ms = 0; ms <= T.timeoutMs + 10 && !resolved; ms += 5) {
    await scheduler.advanceAsync(5);
    await settle();
  }
  expect(resolved).toBe(true);
  const result = await report;

  expect(result.state).toBe('CANCELED');
  expect(jobEvents).toEqual(['RUNNING->CANCELING', 'CANCELING->CANCELED']);
  const expected = new Set([...liveAtCancel, ...late].map((task) => task.executionId));
  expect(new Set(result.tasks.map((entry) => entry.executionId))).toEqual(expected);
  for (const entry of result.tasks) {
    const task = [...plans.keys()].find((candidate) => candidate.executionId === entry.executionId);
    expect(entry.state).toBe(task?.state);
    expect(isTerminal(entry.state)).toBe(true);
  }
  const launchedIds = new Set(launched.map((execution) => execution.spec.task.executionId));
  for (const task of [...notStarted, ...late]) {
    expect(task.state).toBe('CANCELED');
    expect(launchedIds.has(task.executionId)).toBe(false);
  }
  await runtime.close();
}

describe('job cancellation (property)', () => {
  it(`ends every job CANCELED with a complete report over ${NUM_RUNS} random jobs`, async () => {
    await fc.assert(fc.asyncProperty(jobArb, play), { numRuns: NUM_RUNS });
  }, 120_000);
});
