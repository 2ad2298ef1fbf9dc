/**
 * Model-based property test of DefaultTaskSlotTable: random sequences of slot requests (valid static
 * and dynamic allocations, exact repeats, the same allocation id on another index or job, occupied
 * indexes, malformed requests), activations, deactivations, frees, fake time passing (timeouts
 * firing), tasks attached and finished, and close, run against a model made of plain Maps. After
 * every step: the outcome (return value or error class) matches the model, and so do the slot
 * report, the per-job and per-allocation queries, the emitted events, the number of pending timers
 * and the failures each task received; and `checkInvariants()` passes.
 *
 * 10,000 sequences of up to 30 commands (fc.commands with size 'max'). Measured on the 2-core
 * machine: 6 s for this file alone, 8-10 s while other test files run beside it.
 */
import 'reflect-metadata';
import { EventEmitter } from 'eventemitter3';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  DuplicateAllocationError,
  ErrorCode,
  InvalidSlotRequestError,
  SlotNotFoundError,
  SlotOccupiedError,
  TaskSubmissionError,
  TaskwardenError,
} from '../src/errors.js';
import type { RuntimeEvents, SlotStateChangedEvent } from '../src/interfaces/events.js';
import type { AllocateSlotRequest, SlotReportEntry, SlotState } from '../src/interfaces/task-slot-table.js';
import { DefaultTaskSlotTable } from '../src/slots/default-task-slot-table.js';
import { FakeTask, ManualScheduler } from '../src/testing/index.js';

const NUM_RUNS = 10_000;
const MAX_COMMANDS = 30;
const NUMBER_OF_SLOTS = 3;
const JOBS = ['j1', 'j2'] as const;
const ALLOCATION_IDS = ['a1', 'a2', 'a3', 'a4', 'a5'] as const;

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// ---------------------------------------------------------------------------------------------------
// The model

interface ModelSlot {
  index: number;
  allocationId: string;
  jobId: string;
  state: Exclude<SlotState, 'FREE'>;
  /** The pending timeout: due time and arming order (the scheduler's tie-break). */
  deadline: { at: number; seq: number } | undefined;
  tasks: Set<string>;
}

interface Model {
  now: number;
  /** Timers armed so far; the real scheduler numbers its timers the same way. */
  armed: number;
  /** Insertion order matters: `close` frees in it, and that decides the dynamic free-list order. */
  byAllocation: Map<string, ModelSlot>;
  byIndex: Map<number, ModelSlot>;
  freeDynamic: number[];
  nextDynamic: number;
  /** Attached tasks → their allocation. */
  tasks: Map<string, string>;
  /** Every task ever attached → how many times it must have been failed. */
  failures: Map<string, number>;
  taskCounter: number;
  closed: boolean;
  events: SlotStateChangedEvent[];
}

interface Real {
  table: DefaultTaskSlotTable;
  scheduler: ManualScheduler;
  tasks: Map<string, FakeTask>;
  events: SlotStateChangedEvent[];
  closeResolved: boolean;
}

type Outcome = { value: unknown } | { error: abstract new (...args: never[]) => Error; code?: string };

function newModel(): Model {
  return {
    now: 0,
    armed: 0,
    byAllocation: new Map(),
    byIndex: new Map(),
    freeDynamic: [],
    nextDynamic: NUMBER_OF_SLOTS,
    tasks: new Map(),
    failures: new Map(),
    taskCounter: 0,
    closed: false,
    events: [],
  };
}

function newReal(): Real {
  const scheduler = new ManualScheduler();
  const events = new EventEmitter<RuntimeEvents>();
  const seen: SlotStateChangedEvent[] = [];
  events.on('slotStateChanged', (event) => seen.push(event));
  const table = new DefaultTaskSlotTable(
    { numberOfSlots: NUMBER_OF_SLOTS },
    scheduler,
    events,
    pino({ level: 'silent' }),
  );
  return { table, scheduler, tasks: new Map(), events: seen, closeResolved: false };
}

function transition(model: Model, slot: ModelSlot, from: SlotState, to: SlotState): void {
  model.events.push({ index: slot.index, allocationId: slot.allocationId, jobId: slot.jobId, from, to });
}

function arm(model: Model, timeoutMs: number): { at: number; seq: number } {
  return { at: model.now + timeoutMs, seq: model.armed++ };
}

function release(model: Model, slot: ModelSlot): void {
  model.byAllocation.delete(slot.allocationId);
  model.byIndex.delete(slot.index);
  if (slot.index >= NUMBER_OF_SLOTS) model.freeDynamic.push(slot.index);
  transition(model, slot, slot.state, 'FREE');
}

/** Model of `freeSlot` on a held slot that is not RELEASING. */
function free(model: Model, slot: ModelSlot): number {
  slot.deadline = undefined;
  if (slot.tasks.size === 0) {
    release(model, slot);
    return slot.index;
  }
  transition(model, slot, slot.state, 'RELEASING');
  slot.state = 'RELEASING';
  for (const executionId of slot.tasks) {
    model.failures.set(executionId, (model.failures.get(executionId) ?? 0) + 1);
  }
  return -1;
}

/** Model of `allocateSlot` for a request with well-formed ids and timeout. */
function allocate(model: Model, request: AllocateSlotRequest): Outcome {
  // A dynamic index is only ever handed out; naming one (a repeat with the index it returned) is invalid.
  if (request.index < -1 || request.index >= NUMBER_OF_SLOTS) return { error: InvalidSlotRequestError };
  if (model.closed) return { error: TaskwardenError, code: ErrorCode.RUNTIME_CLOSED };
  const existing = model.byAllocation.get(request.allocationId);
  if (existing !== undefined) {
    const sameIndex =
      request.index === existing.index || (request.index === -1 && existing.index >= NUMBER_OF_SLOTS);
    if (sameIndex && existing.jobId === request.jobId && existing.state !== 'RELEASING') {
      return { value: existing.index };
    }
    return { error: DuplicateAllocationError, code: ErrorCode.DUPLICATE_ALLOCATION };
  }
  if (request.index !== -1 && model.byIndex.has(request.index)) {
    return { error: SlotOccupiedError, code: ErrorCode.SLOT_OCCUPIED };
  }
  const index = request.index !== -1 ? request.index : (model.freeDynamic.pop() ?? model.nextDynamic++);
  const slot: ModelSlot = {
    index,
    allocationId: request.allocationId,
    jobId: request.jobId,
    state: 'ALLOCATED',
    deadline: request.timeoutMs === undefined ? undefined : arm(model, request.timeoutMs),
    tasks: new Set(),
  };
  model.byAllocation.set(slot.allocationId, slot);
  model.byIndex.set(index, slot);
  transition(model, slot, 'FREE', 'ALLOCATED');
  return { value: index };
}

function modelReport(model: Model): SlotReportEntry[] {
  const report: SlotReportEntry[] = [];
  for (let index = 0; index < NUMBER_OF_SLOTS; index++) {
    const slot = model.byIndex.get(index);
    report.push(
      slot === undefined
        ? { index, state: 'FREE' }
        : { index, state: slot.state, allocationId: slot.allocationId, jobId: slot.jobId },
    );
  }
  const dynamic = [...model.byIndex.values()].filter((slot) => slot.index >= NUMBER_OF_SLOTS);
  dynamic.sort((a, b) => a.index - b.index);
  for (const slot of dynamic) {
    report.push({ index: slot.index, state: slot.state, allocationId: slot.allocationId, jobId: slot.jobId });
  }
  return report;
}

// ---------------------------------------------------------------------------------------------------
// Checks shared by every command

function run(action: () => unknown): { value: unknown } | { thrown: unknown } {
  try {
    return { value: action() };
  } catch (thrown) {
    return { thrown };
  }
}

function expectOutcome(
  actual: { value: unknown } | { thrown: unknown },
  expected: Outcome,
  what: string,
): void {
  if ('value' in expected) {
    if ('thrown' in actual)
      throw new Error(`${what}: expected ${String(expected.value)}, threw ${actual.thrown}`);
    expect(actual.value, what).toBe(expected.value);
    return;
  }
  if (!('thrown' in actual)) {
    throw new Error(`${what}: expected ${expected.error.name}, returned ${String(actual.value)}`);
  }
  expect(actual.thrown, what).toBeInstanceOf(expected.error);
  if (expected.code !== undefined) expect((actual.thrown as TaskwardenError).code, what).toBe(expected.code);
}

/** Everything observable about the table, read from the real one. */
function observe(real: Real): unknown {
  const { table } = real;
  return {
    report: table.getSlotReport(),
    events: real.events,
    // Timers that stopped being relevant were cancelled, not merely ignored.
    pendingTimers: real.scheduler.pendingCount,
    allocationIds: JOBS.map((jobId) => table.getAllocationIds(jobId).sort()),
    perAllocation: ALLOCATION_IDS.map((allocationId) => ({
      tasks: table
        .getTasks(allocationId)
        .map((task) => task.executionId)
        .sort(),
      active: JOBS.map((jobId) => table.isActive(allocationId, jobId)),
      allocated: JOBS.map((jobId) => {
        const index = table.getSlotReport().find((entry) => entry.allocationId === allocationId)?.index ?? 0;
        return table.isAllocated(index, jobId, allocationId);
      }),
    })),
    failures: [...real.tasks].map(([executionId, task]) => [executionId, task.failures.length]),
  };
}

/** The same, predicted by the model. */
function predict(model: Model, real: Real): unknown {
  const held = [...model.byAllocation.values()];
  return {
    report: modelReport(model),
    events: model.events,
    pendingTimers: held.filter((slot) => slot.deadline !== undefined).length,
    allocationIds: JOBS.map((jobId) =>
      held
        .filter((slot) => slot.jobId === jobId)
        .map((slot) => slot.allocationId)
        .sort(),
    ),
    perAllocation: ALLOCATION_IDS.map((allocationId) => {
      const slot = model.byAllocation.get(allocationId);
      return {
        tasks: [...(slot?.tasks ?? [])].sort(),
        active: JOBS.map((jobId) => slot?.state === 'ACTIVE' && slot.jobId === jobId),
        allocated: JOBS.map(
          (jobId) => slot !== undefined && slot.jobId === jobId && slot.state !== 'RELEASING',
        ),
      };
    }),
    failures: [...real.tasks.keys()].map((executionId) => [
      executionId,
      model.failures.get(executionId) ?? 0,
    ]),
  };
}

function verify(model: Model, real: Real): void {
  real.table.checkInvariants();
  const observed = observe(real);
  const predicted = predict(model, real);
  // A cheap comparison first: vitest's deep equality on every step would dominate the run time.
  if (JSON.stringify(observed) !== JSON.stringify(predicted)) expect(observed).toEqual(predicted);
  real.events.length = 0;
  model.events.length = 0;
}

// ---------------------------------------------------------------------------------------------------
// Commands

type SlotCommand = fc.AsyncCommand<Model, Real>;

/**
 * Whom an activate, deactivate, free or add-task command addresses: mostly a held allocation (chosen
 * by a generated number when the command runs, so those commands rarely miss), sometimes any id of
 * the pool (often unknown).
 */
type Target = { pick: number } | { allocationId: string };

function resolveTarget(model: Model, target: Target, prefer?: SlotState): string {
  if ('allocationId' in target) return target.allocationId;
  const preferred = [...model.byAllocation.values()].filter((slot) => slot.state === prefer);
  const slot =
    preferred.length > 0 ? preferred[target.pick % preferred.length] : pickHeld(model, target.pick);
  return slot?.allocationId ?? ALLOCATION_IDS[target.pick % ALLOCATION_IDS.length] ?? 'a1';
}

/** Chooses one held allocation by a generated number, or undefined when none is held. */
function pickHeld(model: Model, pick: number): ModelSlot | undefined {
  const held = [...model.byAllocation.values()];
  return held.length === 0 ? undefined : held[pick % held.length];
}

type AllocateKind =
  | { kind: 'fresh'; index: number; jobId: string; allocationId: string; timeoutMs: number | undefined }
  | { kind: 'repeat'; pick: number; dynamicForm: boolean; timeoutMs: number | undefined }
  | { kind: 'otherIndex'; pick: number; index: number }
  | { kind: 'otherJob'; pick: number }
  | { kind: 'occupied'; pick: number; allocationId: string };

/** Any allocation; the request is built from the model, so repeats and conflicts really happen. */
class AllocateCommand implements SlotCommand {
  constructor(readonly spec: AllocateKind) {}

  check(): boolean {
    return true;
  }

  request(model: Model): AllocateSlotRequest {
    const spec = this.spec;
    if (spec.kind === 'fresh') {
      return {
        index: spec.index,
        jobId: spec.jobId,
        allocationId: spec.allocationId,
        timeoutMs: spec.timeoutMs,
      };
    }
    const held = pickHeld(model, spec.pick);
    if (held === undefined) return { index: -1, jobId: 'j1', allocationId: 'a1' };
    switch (spec.kind) {
      case 'repeat': {
        const index = spec.dynamicForm && held.index >= NUMBER_OF_SLOTS ? -1 : held.index;
        return { index, jobId: held.jobId, allocationId: held.allocationId, timeoutMs: spec.timeoutMs };
      }
      case 'otherIndex':
        return { index: spec.index, jobId: held.jobId, allocationId: held.allocationId };
      case 'otherJob':
        return {
          index: held.index < NUMBER_OF_SLOTS ? held.index : -1,
          jobId: 'j-other',
          allocationId: held.allocationId,
        };
      case 'occupied':
        return {
          index: held.index < NUMBER_OF_SLOTS ? held.index : 0,
          jobId: held.jobId,
          allocationId: spec.allocationId,
        };
    }
  }

  async run(model: Model, real: Real): Promise<void> {
    const request = this.request(model);
    const expected = allocate(model, request);
    expectOutcome(
      run(() => real.table.allocateSlot(request)),
      expected,
      `allocateSlot(${JSON.stringify(request)})`,
    );
    verify(model, real);
  }

  toString(): string {
    return `allocate(${JSON.stringify(this.spec)})`;
  }
}

const INVALID_REQUESTS: Array<[unknown, string]> = [
  [null, 'request'],
  [{ index: NUMBER_OF_SLOTS, jobId: 'j1', allocationId: 'a1' }, 'index'],
  [{ index: -2, jobId: 'j1', allocationId: 'a1' }, 'index'],
  [{ index: 0.5, jobId: 'j1', allocationId: 'a1' }, 'index'],
  [{ index: 0, jobId: '', allocationId: 'a1' }, 'jobId'],
  [{ index: 0, jobId: 'j1', allocationId: '' }, 'allocationId'],
  [{ index: -1, jobId: 'j1', allocationId: 'a1', timeoutMs: -1 }, 'timeoutMs'],
  [{ index: 0, jobId: 'j1', allocationId: 'a1', timeoutMs: Number.NaN }, 'timeoutMs'],
];

class InvalidAllocateCommand implements SlotCommand {
  constructor(readonly variant: number) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    const [request, field] = INVALID_REQUESTS[this.variant] as [unknown, string];
    const outcome = run(() => real.table.allocateSlot(request as AllocateSlotRequest));
    expectOutcome(outcome, { error: InvalidSlotRequestError }, `allocateSlot(${JSON.stringify(request)})`);
    if ('thrown' in outcome) expect((outcome.thrown as InvalidSlotRequestError).field).toBe(field);
    verify(model, real);
  }

  toString(): string {
    return `invalid(${JSON.stringify(INVALID_REQUESTS[this.variant]?.[0])})`;
  }
}

class ActivateCommand implements SlotCommand {
  constructor(readonly target: Target) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    const allocationId = resolveTarget(model, this.target);
    const slot = model.byAllocation.get(allocationId);
    let expected: Outcome;
    if (slot === undefined) expected = { error: SlotNotFoundError, code: ErrorCode.SLOT_NOT_FOUND };
    else if (slot.state === 'RELEASING') expected = { value: false };
    else {
      if (slot.state === 'ALLOCATED') {
        transition(model, slot, 'ALLOCATED', 'ACTIVE');
        slot.state = 'ACTIVE';
        slot.deadline = undefined;
      }
      expected = { value: true };
    }
    expectOutcome(
      run(() => real.table.markSlotActive(allocationId)),
      expected,
      `markSlotActive(${allocationId})`,
    );
    verify(model, real);
  }

  toString(): string {
    return `activate(${JSON.stringify(this.target)})`;
  }
}

class DeactivateCommand implements SlotCommand {
  constructor(
    readonly target: Target,
    readonly timeoutMs: number,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    const allocationId = resolveTarget(model, this.target);
    const slot = model.byAllocation.get(allocationId);
    let expected: Outcome;
    if (slot === undefined) expected = { error: SlotNotFoundError };
    else if (slot.state === 'RELEASING') expected = { value: false };
    else {
      if (slot.state === 'ACTIVE') transition(model, slot, 'ACTIVE', 'ALLOCATED');
      slot.state = 'ALLOCATED';
      slot.deadline = arm(model, this.timeoutMs);
      expected = { value: true };
    }
    expectOutcome(
      run(() => real.table.markSlotInactive(allocationId, this.timeoutMs)),
      expected,
      `markSlotInactive(${allocationId}, ${this.timeoutMs})`,
    );
    verify(model, real);
  }

  toString(): string {
    return `deactivate(${JSON.stringify(this.target)}, ${this.timeoutMs})`;
  }
}

class FreeCommand implements SlotCommand {
  constructor(readonly target: Target) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    const allocationId = resolveTarget(model, this.target);
    const slot = model.byAllocation.get(allocationId);
    const expected = slot === undefined || slot.state === 'RELEASING' ? -1 : free(model, slot);
    expectOutcome(
      run(() => real.table.freeSlot(allocationId)),
      { value: expected },
      `freeSlot(${allocationId})`,
    );
    verify(model, real);
  }

  toString(): string {
    return `free(${JSON.stringify(this.target)})`;
  }
}

class AdvanceCommand implements SlotCommand {
  constructor(readonly ms: number) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    const until = model.now + this.ms;
    for (;;) {
      let next: ModelSlot | undefined;
      for (const slot of model.byAllocation.values()) {
        const d = slot.deadline;
        if (d === undefined || d.at > until) continue;
        const n = next?.deadline;
        if (n === undefined || d.at < n.at || (d.at === n.at && d.seq < n.seq)) next = slot;
      }
      if (next === undefined) break;
      model.now = (next.deadline as { at: number }).at;
      free(model, next);
    }
    model.now = until;
    real.scheduler.advance(this.ms);
    verify(model, real);
  }

  toString(): string {
    return `advance(${this.ms})`;
  }
}

class AddTaskCommand implements SlotCommand {
  constructor(
    readonly target: Target,
    readonly ownJob: boolean,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    const allocationId = resolveTarget(model, this.target, 'ACTIVE');
    const executionId = `t${model.taskCounter++}`;
    const slot = model.byAllocation.get(allocationId);
    const holder = slot?.jobId ?? 'j1';
    const jobId = this.ownJob ? holder : holder === 'j1' ? 'j2' : 'j1';
    let expected: Outcome;
    if (model.closed) expected = { error: TaskSubmissionError, code: ErrorCode.RUNTIME_CLOSED };
    else if (slot === undefined || slot.state !== 'ACTIVE' || slot.jobId !== jobId) {
      expected = { error: TaskSubmissionError, code: ErrorCode.NO_ACTIVE_SLOT };
    } else {
      slot.tasks.add(executionId);
      model.tasks.set(executionId, allocationId);
      expected = { value: undefined };
    }
    const task = new FakeTask(executionId, jobId, allocationId, real.table);
    const outcome = run(() => real.table.addTask(task));
    expectOutcome(outcome, expected, `addTask(${executionId} of ${jobId} in ${allocationId})`);
    if ('value' in outcome) real.tasks.set(executionId, task);
    verify(model, real);
  }

  toString(): string {
    return `addTask(${JSON.stringify(this.target)}, ${this.ownJob ? 'own job' : 'other job'})`;
  }
}

class FinishTaskCommand implements SlotCommand {
  constructor(readonly pick: number) {}

  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    const attached = [...model.tasks.keys()];
    const executionId = attached[this.pick % Math.max(1, attached.length)];
    if (executionId !== undefined) {
      const slot = model.byAllocation.get(model.tasks.get(executionId) as string) as ModelSlot;
      model.tasks.delete(executionId);
      slot.tasks.delete(executionId);
      if (slot.state === 'RELEASING' && slot.tasks.size === 0) release(model, slot);
      real.tasks.get(executionId)?.finish();
    }
    await flush();
    verify(model, real);
    if (model.closed) expect(real.closeResolved).toBe(model.byAllocation.size === 0);
  }

  toString(): string {
    return `finishTask(#${this.pick})`;
  }
}

class CloseCommand implements SlotCommand {
  check(): boolean {
    return true;
  }

  async run(model: Model, real: Real): Promise<void> {
    if (!model.closed) {
      model.closed = true;
      for (const slot of [...model.byAllocation.values()]) if (slot.state !== 'RELEASING') free(model, slot);
    }
    void real.table.close().then(() => {
      real.closeResolved = true;
    });
    await flush();
    verify(model, real);
    expect(real.closeResolved).toBe(model.byAllocation.size === 0);
  }

  toString(): string {
    return 'close()';
  }
}

const allocationId = fc.constantFrom(...ALLOCATION_IDS);
// Half the requests arm a timeout: enough for timeouts to fire, not so many that no slot lives to be activated.
const timeout = fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined, freq: 2 });
const pick = fc.nat({ max: 20 });
const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 4, arbitrary: pick.map((p) => ({ pick: p })) },
  { weight: 1, arbitrary: allocationId.map((id) => ({ allocationId: id })) },
);

// Weighted so that most sequences stay open long enough to reach deep states: close comes about once
// in a hundred commands, so roughly a quarter of the sequences end with a closed table.
const commandArbitrary: fc.Arbitrary<SlotCommand> = fc.oneof(
  {
    weight: 16,
    arbitrary: fc
      .record({
        index: fc.integer({ min: -1, max: NUMBER_OF_SLOTS - 1 }),
        jobId: fc.constantFrom(...JOBS),
        allocationId,
        timeoutMs: timeout,
      })
      .map((spec): SlotCommand => new AllocateCommand({ kind: 'fresh', ...spec })),
  },
  {
    weight: 8,
    arbitrary: fc
      .record({ pick, dynamicForm: fc.boolean(), timeoutMs: timeout })
      .map((spec): SlotCommand => new AllocateCommand({ kind: 'repeat', ...spec })),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ pick, index: fc.integer({ min: -1, max: NUMBER_OF_SLOTS - 1 }) })
      .map((spec): SlotCommand => new AllocateCommand({ kind: 'otherIndex', ...spec })),
  },
  { weight: 4, arbitrary: pick.map((p): SlotCommand => new AllocateCommand({ kind: 'otherJob', pick: p })) },
  {
    weight: 4,
    arbitrary: fc
      .record({ pick, allocationId })
      .map((spec): SlotCommand => new AllocateCommand({ kind: 'occupied', ...spec })),
  },
  {
    weight: 4,
    arbitrary: fc
      .nat({ max: INVALID_REQUESTS.length - 1 })
      .map((variant): SlotCommand => new InvalidAllocateCommand(variant)),
  },
  { weight: 16, arbitrary: target.map((t): SlotCommand => new ActivateCommand(t)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(target, fc.integer({ min: 0, max: 20 }))
      .map(([t, ms]): SlotCommand => new DeactivateCommand(t, ms)),
  },
  { weight: 10, arbitrary: target.map((t): SlotCommand => new FreeCommand(t)) },
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 25 }).map((ms): SlotCommand => new AdvanceCommand(ms)) },
  {
    weight: 16,
    arbitrary: fc
      .tuple(target, fc.nat({ max: 4 }))
      .map(([t, n]): SlotCommand => new AddTaskCommand(t, n > 0)),
  },
  { weight: 6, arbitrary: pick.map((p): SlotCommand => new FinishTaskCommand(p)) },
  { weight: 1, arbitrary: fc.constant(null).map((): SlotCommand => new CloseCommand()) },
);

describe('DefaultTaskSlotTable against a model', () => {
  it(`agrees with the model on ${NUM_RUNS} random sequences of requests`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.commands([commandArbitrary], { maxCommands: MAX_COMMANDS, size: 'max' }),
        async (commands) => {
          let real: Real | undefined;
          await fc.asyncModelRun(() => {
            real = newReal();
            return { model: newModel(), real };
          }, commands);
          if (real === undefined) throw new Error('setup did not run');

          // However a sequence ends, close() frees everything once the tasks are done.
          const closing = real.table.close();
          for (const task of real.tasks.values()) task.finish();
          await closing;
          expect(real.table.getSlotReport().every((entry) => entry.state === 'FREE')).toBe(true);
          expect(real.scheduler.pendingCount).toBe(0);
          real.table.checkInvariants();
        },
      ),
      { numRuns: NUM_RUNS },
    );
  }, 120_000);
});
