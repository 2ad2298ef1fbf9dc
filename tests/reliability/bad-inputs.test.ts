/**
 * The bad-input catalogue (issue 9). Every row of `bad-inputs/cases.ts` gives one bad input and
 * proves two things:
 *
 * 1. it gets the typed error the rule demands (class and `code`, or TypeError/RangeError naming the
 *    option), reported as the row says: thrown, a rejected promise, or the task's outcome (FAILED
 *    with `error`, from the state the row names);
 * 2. the runtime still serves afterwards: a fresh trivial task on the same runtime (and executor)
 *    ends FINISHED, `slotTable.checkInvariants()` holds, the slot report is what it was before the
 *    row, and no thread or child process is left once the work is done — and, for a runtime of the
 *    row's own, none after `close()`.
 *
 * Rows marked `bug` in cases.ts fail on purpose until the gap is fixed (see docs/bad-inputs.md,
 * "Known gaps"). The doc's catalogue section must equal what `bad-inputs/render.ts` makes of the
 * rows; when it does not, the test writes the expected doc to the temporary directory and names it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SlotReportEntry, Task, TaskOutcome, TaskStateChangedEvent } from '@taskwarden/sdk';
import { afterAll, assert, describe, expect, it } from 'vitest';
import type { BadInputCase, Expectation, Observed } from './bad-inputs/cases.js';
import { CASES, CATEGORIES } from './bad-inputs/cases.js';
import type { Env, EnvName } from './bad-inputs/envs.js';
import { liveResources, SHARED_ENVS, within } from './bad-inputs/envs.js';
import { END_MARKER, normalizeTables, renderCatalogue, START_MARKER } from './bad-inputs/render.js';

/**
 * How long a task may take to end before the row calls it a hang. A liveness bound, not a speed
 * assertion: every row here ends in well under a second when it works.
 */
const LIVENESS_MS = 8_000;

const DOC = fileURLToPath(new URL('../../docs/bad-inputs.md', import.meta.url));

const shared = new Map<EnvName, Env>();

function sharedEnv(name: EnvName): Env {
  let env = shared.get(name);
  if (env === undefined) {
    env = SHARED_ENVS[name]();
    shared.set(name, env);
  }
  return env;
}

afterAll(async () => {
  for (const env of shared.values()) {
    await env.runtime.close();
    expect(env.runtime.health).toBe('closed');
    expect(liveResources(env), `${env.name}: threads or processes left after close()`).toBe(0);
  }
});

async function until(predicate: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

function assertError(error: unknown, expectation: Exclude<Expectation, { reported: 'returns' }>): void {
  const shown = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  expect(error, `expected ${expectation.error.name}, got ${shown}`).toBeInstanceOf(expectation.error);
  const actual = error as Error & { code?: unknown };
  if (expectation.code !== undefined) expect(actual.code, shown).toBe(expectation.code);
  if (expectation.mentions !== undefined) expect(actual.message).toContain(expectation.mentions);
  if (expectation.props !== undefined) expect(actual).toMatchObject(expectation.props);
}

function isTask(value: unknown): value is Task {
  return typeof value === 'object' && value !== null && 'done' in value && 'cancel' in value;
}

/** What happened when a call that should have refused the input did not. */
async function describeAccepted(row: BadInputCase, env: Env, value: unknown): Promise<string> {
  if (row.onAccepted) return row.onAccepted(env, value);
  if (isTask(value)) {
    value.cancel();
    const outcome = await within(value.done, LIVENESS_MS);
    return `submit accepted it; after cancel() the task ended ${outcome?.state ?? 'never'}`;
  }
  return `it returned ${String(value)}`;
}

/** Gives the bad input and checks the error it gets. */
async function observe(row: BadInputCase, env: Env): Promise<Observed> {
  const expectation = row.expect;
  const transitions: TaskStateChangedEvent[] = [];
  const record = (event: TaskStateChangedEvent): void => {
    transitions.push(event);
  };
  env.runtime.events.on('taskStateChanged', record);
  try {
    switch (expectation.reported) {
      case 'thrown': {
        let value: unknown;
        try {
          value = row.act(env);
        } catch (error) {
          assertError(error, expectation);
          return { error };
        }
        return assert.fail(
          `expected ${expectation.error.name} to be thrown, nothing was: ${await describeAccepted(row, env, value)}`,
        );
      }
      case 'rejected': {
        let promise: unknown;
        try {
          promise = row.act(env);
        } catch (error) {
          return assert.fail(`expected a rejected promise, the call threw: ${String(error)}`);
        }
        expect(promise).toBeInstanceOf(Promise);
        const settled = await within(
          (promise as Promise<unknown>).then(
            (value) => ({ rejected: false as const, value }),
            (error: unknown) => ({ rejected: true as const, error }),
          ),
          LIVENESS_MS,
        );
        if (settled === undefined) return assert.fail(`the promise did not settle within ${LIVENESS_MS} ms`);
        if (!settled.rejected) {
          return assert.fail(
            `expected a rejection with ${expectation.error.name}, it resolved: ${await describeAccepted(row, env, settled.value)}`,
          );
        }
        assertError(settled.error, expectation);
        return { error: settled.error };
      }
      case 'outcome': {
        const task = row.act(env);
        expect(isTask(task), 'the call returns a Task').toBe(true);
        const submitted = task as Task;
        const outcome: TaskOutcome | undefined = await within(submitted.done, LIVENESS_MS);
        if (outcome === undefined) {
          const stuckIn = submitted.state;
          submitted.cancel();
          const after = await within(submitted.done, LIVENESS_MS);
          return assert.fail(
            `a hang: the task was still ${stuckIn} after ${LIVENESS_MS} ms; after cancel() it ended ${after?.state ?? 'never'}`,
          );
        }
        const shown = outcome.error ? `${outcome.error.name}: ${outcome.error.message}` : 'no error';
        expect(outcome.state, shown).toBe('FAILED');
        expect(outcome.abandoned).toBe(false);
        assertError(outcome.error, expectation);
        if (expectation.failedFrom !== undefined) {
          const toFailed = transitions.find((event) => event.task === submitted && event.to === 'FAILED');
          expect(toFailed?.from, 'the state the task failed from').toBe(expectation.failedFrom);
        }
        return { task: submitted, outcome };
      }
      case 'returns': {
        const value = row.act(env);
        expect(value).toEqual(expectation.value);
        return { value };
      }
    }
  } finally {
    env.runtime.events.off('taskStateChanged', record);
  }
}

/** The runtime afterwards: serving (the default), or closed / fatal by design. */
async function proveAfterwards(row: BadInputCase, env: Env, reportBefore: SlotReportEntry[]): Promise<void> {
  const { runtime } = env;
  if (row.afterwards === 'closed' || row.afterwards === 'fatal') {
    expect(runtime.health).toBe(row.afterwards);
    runtime.slotTable.checkInvariants();
    expect(runtime.slotTable.getSlotReport().length).toBeGreaterThan(0);
    await runtime.close();
    expect(runtime.health).toBe('closed');
    expect(runtime.slotTable.getSlotReport().every((entry) => entry.state === 'FREE')).toBe(true);
    return;
  }
  expect(runtime.health, 'runtime health').toBe('running');
  const next = runtime.submit({
    jobId: env.jobId,
    allocationId: env.allocationId,
    executor: env.executor,
    invokable: env.trivial,
    input: row.id,
  });
  const outcome = await within(next.done, LIVENESS_MS);
  expect(outcome, 'the next task ends within the liveness bound').toBeDefined();
  expect(outcome).toMatchObject({ state: 'FINISHED', result: { served: row.id } });
  runtime.slotTable.checkInvariants();
  expect(runtime.slotTable.getSlotReport(), 'slot report as before the row').toEqual(reportBefore);
  expect(runtime.slotTable.getTasks(env.allocationId)).toEqual([]);
  const drained = await until(() => liveResources(env) === 0, LIVENESS_MS);
  expect(drained, `no thread or process left once idle (live: ${liveResources(env)})`).toBe(true);
}

async function runRow(row: BadInputCase): Promise<void> {
  const own = row.ownEnv?.();
  const env = own ?? sharedEnv(row.env);
  let failed = false;
  try {
    const reportBefore = env.runtime.slotTable.getSlotReport();
    try {
      await row.prepare?.(env);
      const observed = await observe(row, env);
      await row.check?.(env, observed);
    } finally {
      await row.cleanup?.(env);
    }
    await proveAfterwards(row, env, reportBefore);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    if (own) {
      await own.runtime.close();
      // Only when the row passed: a failing row keeps its own message.
      if (!failed) expect(liveResources(own), 'threads or processes left after close()').toBe(0);
    }
  }
}

describe('bad inputs: typed errors, and the runtime still serves afterwards', () => {
  for (const category of Object.keys(CATEGORIES)) {
    describe(CATEGORIES[category as keyof typeof CATEGORIES], () => {
      for (const row of CASES.filter((candidate) => candidate.category === category)) {
        const marker = row.bug === undefined ? '' : ' [known gap: fails until fixed]';
        it(`${row.id}: ${row.input}${marker}`, () => runRow(row));
      }
    });
  }
});

describe('the catalogue', () => {
  it('has at least 35 rows with unique ids', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(35);
    expect(new Set(CASES.map((row) => row.id)).size).toBe(CASES.length);
  });

  it('docs/bad-inputs.md shows exactly these rows', () => {
    const rendered = renderCatalogue(CASES);
    const doc = readFileSync(DOC, 'utf8');
    const start = doc.indexOf(START_MARKER);
    const end = doc.indexOf(END_MARKER);
    expect(start, `${DOC} has the start marker`).toBeGreaterThanOrEqual(0);
    expect(end, `${DOC} has the end marker`).toBeGreaterThan(start);
    const section = doc.slice(start, end + END_MARKER.length);
    // When it does not match, the expected doc is written out for copying over the stale one.
    const expected = join(tmpdir(), 'taskwarden-bad-inputs.md');
    const stale = `docs/bad-inputs.md is stale; the expected doc is in ${expected}`;
    if (normalizeTables(section) !== normalizeTables(rendered)) {
      writeFileSync(expected, doc.slice(0, start) + rendered + doc.slice(end + END_MARKER.length));
    }
    // Every id is in the doc, then the whole section matches the rows (column padding aside).
    for (const row of CASES) expect(section, stale).toMatch(new RegExp(`^\\| ${row.id}[ ⚠]`, 'm'));
    expect(normalizeTables(section), stale).toBe(normalizeTables(rendered));
  });
});
