/**
 * The executor conformance suite (vitest): `@taskwarden/sdk/testing/conformance`. Kept apart from
 * `@taskwarden/sdk/testing`, which has no dependency on vitest.
 * @module
 */
import '../polyfill.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EmitOnlyFatalErrorHandler } from '../fatal/emit-only-fatal-error-handler.js';
import type { Executor, LaunchSpec } from '../interfaces/executor.js';
import type { ModuleReference } from '../interfaces/invokable.js';
import type { TaskRuntime } from '../interfaces/runtime.js';
import type { Task, TaskDescriptor } from '../interfaces/task.js';
import { createRuntime } from '../runtime/create-runtime.js';
import { CountingScheduler } from './counting-scheduler.js';
import type { DirectLaunch, DirectOutcome } from './direct-launch.js';
import { launchDirectly } from './direct-launch.js';
import { sleep, until } from './wait.js';

/** Options of {@link describeExecutorConformance}. */
export interface ExecutorConformanceOptions<TExecutor extends Executor = Executor> {
  /**
   * Whether `createExecutor({ maxConcurrency })` really limits concurrent work, so extra tasks wait
   * in DEPLOYING. Default true; set false for executors without a limit (such as `InlineExecutor`).
   */
  limitsConcurrency?: boolean;
  /**
   * Whether a task can end its thread or process (`process.exit()`), which must fail only that task.
   * Default: true unless `capabilities.isolation` is `'none'`.
   */
  isolatesCrashes?: boolean;
  /** Threads or processes the executor still has alive, including ones still exiting; must be 0 after `close()`. */
  liveResources?: (executor: TExecutor) => number | Promise<number>;
  /** Per-test timeout; default 30 000 ms. */
  testTimeoutMs?: number;
  /**
   * Your own implementation of a fixture behaviour, for executors that do not run JavaScript modules
   * (a shell executor, an HTTP executor, ...). Each is submitted as the task's `invokable`; a
   * behaviour you leave out runs the shipped `.mjs` file from {@link conformanceFixtures}. The suite
   * also submits `{ ...fixtures.echo, export: 'nope' }` and expects the task to fail with a message
   * containing `'nope'`. Where an input field names a file (`input.log`), the file exists, is empty
   * at first, and the suite reads it; "appends" means appending to it, synchronously enough that the
   * line is there before the next step.
   *
   * - `echo`: returns its input unchanged (see {@link ExecutorConformanceOptions.serialization}).
   * - `throws`: fails with an error whose `name` is `'ConformanceError'`, `message` is
   *   `input.message`, `code` is `'E_CONFORMANCE'`, and own field `detail` is
   *   `{ attempt: 3, tags: ['a', 'b'] }`; its `stack` must contain `'ConformanceError'`.
   * - `cooperative`: appends `"invoked\n"` to `input.log`, then waits until it is cancelled; its
   *   cancel hook (what your executor runs on `Execution.cancel`) appends `"cancel-hook\n"` to
   *   `input.log`, and then the work ends with an error (not a result). Without a cancel it gives up
   *   with an error after `input.maxMs` (default 20 000 ms).
   * - `record`: appends `` `invoked ${executionId}\n` `` to `input.log` (the task's execution id)
   *   and returns the execution id.
   * - `busy`: appends `"invoked\n"` to `input.log`, then ignores cancellation and never ends; only
   *   a hard stop (`Execution.kill`) ends it. Used only when `capabilities.hardStop`.
   * - `crash`: ends the thread or process it runs in without a result. Used only when
   *   {@link ExecutorConformanceOptions.isolatesCrashes}.
   * - `deaf`: ignores cancellation but returns after `input.ms` milliseconds. Used only without
   *   `capabilities.hardStop`.
   */
  fixtures?: Partial<Record<keyof typeof conformanceFixtures, ModuleReference>>;
  /**
   * How inputs and results cross to the work: `'structured-clone'` (default; the echo round trip
   * includes a `Date` and a `BigInt`) or `'json'` (the echo round trip uses only JSON values).
   */
  serialization?: 'structured-clone' | 'json';
}

/**
 * Paths of the fixture modules the suite runs by default (plain ESM files shipped with the SDK). What
 * each must do is described at {@link ExecutorConformanceOptions.fixtures}.
 */
export const conformanceFixtures = {
  echo: fixture('echo.mjs'),
  throws: fixture('throws.mjs'),
  cooperative: fixture('cooperative.mjs'),
  record: fixture('record.mjs'),
  busy: fixture('busy.mjs'),
  crash: fixture('crash.mjs'),
  deaf: fixture('deaf.mjs'),
} as const;

function fixture(name: string): string {
  return fileURLToPath(new URL(`../../fixtures/conformance/${name}`, import.meta.url));
}

type FixtureName = keyof typeof conformanceFixtures;

/** The shipped fixtures, with the executor author's own in their place where given. */
function resolveFixtures(
  own: Partial<Record<FixtureName, ModuleReference>> = {},
): Record<FixtureName, ModuleReference> {
  const names = Object.keys(conformanceFixtures) as FixtureName[];
  return Object.fromEntries(
    names.map((name) => [name, own[name] ?? { module: conformanceFixtures[name] }]),
  ) as Record<FixtureName, ModuleReference>;
}

/**
 * Registers a vitest suite with the behaviours every executor must show. Executor authors run it
 * against their executor; both built-in executor packages run it against theirs.
 *
 * The fixtures are modules given as `{ module }` references, so the executor must accept module
 * references (isolated executors accept nothing else). An executor that runs something other than
 * JavaScript modules passes its own fixtures (`options.fixtures`) and, if its inputs and results
 * travel as JSON, `serialization: 'json'`.
 *
 * @example
 * ```ts
 * // my-executor.conformance.test.ts
 * import { describeExecutorConformance } from '@taskwarden/sdk/testing';
 * import { MyExecutor } from '../src/my-executor.js';
 *
 * describeExecutorConformance('MyExecutor', ({ maxConcurrency }) => new MyExecutor({ max: maxConcurrency }), {
 *   liveResources: (executor) => executor.liveCount,
 * });
 *
 * // An executor of shell scripts: its own fixtures, JSON inputs and results.
 * describeExecutorConformance('ShellExecutor', ({ maxConcurrency }) => new ShellExecutor({ maxConcurrent: maxConcurrency }), {
 *   fixtures: { echo: { module: '/abs/fixtures/echo.sh' }, throws: { module: '/abs/fixtures/throws.sh' } },
 *   serialization: 'json',
 * });
 * ```
 */
export function describeExecutorConformance<TExecutor extends Executor>(
  name: string,
  createExecutor: (options: { maxConcurrency: number }) => TExecutor,
  options: ExecutorConformanceOptions<TExecutor> = {},
): void {
  const timeout = options.testTimeoutMs ?? 30_000;
  // Which behaviours apply is decided when the suite is registered, so no test is ever skipped.
  const probe = createExecutor({ maxConcurrency: 1 });
  const { capabilities } = probe;
  const limitsConcurrency = options.limitsConcurrency ?? true;
  const isolatesCrashes = options.isolatesCrashes ?? capabilities.isolation !== 'none';
  const serialization = options.serialization ?? 'structured-clone';
  const fixtures = resolveFixtures(options.fixtures);

  describe(`executor conformance: ${name}`, () => {
    afterAll(() => probe.close());
    describeThroughRuntime();
    describeDirectly();
  });

  function describeThroughRuntime(): void {
    describe('through createRuntime', () => {
      let runtime: TaskRuntime | undefined;
      let executor: TExecutor | undefined;
      let scheduler: CountingScheduler;
      let dir: string;
      let counter = 0;

      function start(
        maxConcurrency = 2,
        cancellation = { interruptIntervalMs: 100, gracePeriodMs: 300, timeoutMs: 10_000 },
      ) {
        dir = mkdtempSync(join(tmpdir(), 'taskwarden-conformance-'));
        executor = createExecutor({ maxConcurrency });
        scheduler = new CountingScheduler();
        runtime = createRuntime({
          numberOfSlots: 1,
          executors: { subject: executor },
          defaultExecutor: 'subject',
          cancellation,
          fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
          scheduler,
          logger: pino({ level: 'silent' }),
        });
        runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
        runtime.slotTable.markSlotActive('slot');
        return runtime;
      }

      function submit(
        invokable: ModuleReference,
        input?: unknown,
        extra: Partial<TaskDescriptor> = {},
      ): Task {
        if (!runtime) throw new Error('start() first');
        return runtime.submit({ jobId: 'job', allocationId: 'slot', invokable, input, ...extra });
      }

      function logFile(): string {
        const file = join(dir, `log-${counter++}.txt`);
        writeFileSync(file, '');
        return file;
      }

      afterEach(async () => {
        const closing = runtime;
        const closed = executor;
        runtime = undefined;
        executor = undefined;
        if (closing) await closing.close({ graceMs: 0 });
        if (closed && options.liveResources) expect(await options.liveResources(closed)).toBe(0);
        if (closing) expect(scheduler.live).toBe(0);
        if (dir) rmSync(dir, { recursive: true, force: true });
      }, timeout);

      it(`returns the result of invoke (${serialization} round trip)`, { timeout }, async () => {
        start();
        const input =
          serialization === 'json'
            ? {
                text: 'héllo "quoted"\n',
                list: [1, 2.5, -3],
                nested: { when: '1970-01-01T00:00:00.000Z', ok: true, none: null },
              }
            : { text: 'héllo', list: [1, 2, 3], nested: { when: new Date(0), big: 10n } };
        const outcome = await submit(fixtures.echo, input).done;
        expect(outcome).toMatchObject({ state: 'FINISHED', cancellationRequested: false, abandoned: false });
        expect(outcome.result).toEqual(input);
      });

      it('fails with the thrown error, keeping name, message, code and fields', { timeout }, async () => {
        start();
        const task = submit(fixtures.throws, { message: 'conformance boom' });
        const outcome = await task.done;
        expect(outcome.state).toBe('FAILED');
        expect(outcome.error).toBeInstanceOf(Error);
        expect(outcome.error?.name).toBe('ConformanceError');
        expect(outcome.error?.message).toBe('conformance boom');
        expect((outcome.error as Error & { code?: string }).code).toBe('E_CONFORMANCE');
        expect((outcome.error as Error & { detail?: unknown }).detail).toEqual({
          attempt: 3,
          tags: ['a', 'b'],
        });
        expect(outcome.error?.stack).toContain('ConformanceError');
        expect(task.failureCause).toBe(outcome.error);
      });

      it('fails a task whose module or export does not exist, naming it', { timeout }, async () => {
        start();
        const missing = join(tmpdir(), 'taskwarden-no-such-module.mjs');
        const noModule = await submit({ module: missing }).done;
        expect(noModule.state).toBe('FAILED');
        expect(noModule.error?.message).toContain('taskwarden-no-such-module.mjs');
        const noExport = await submit(fixtures.echo, undefined, {
          invokable: { ...fixtures.echo, export: 'nope' },
        }).done;
        expect(noExport.state).toBe('FAILED');
        expect(noExport.error?.message).toContain("'nope'");
        const next = await submit(fixtures.echo, 7).done;
        expect(next).toMatchObject({ state: 'FINISHED', result: 7 });
      });

      it('cancels cooperatively: aborts the signal and calls the cancel() hook', { timeout }, async () => {
        start();
        const log = logFile();
        const task = submit(fixtures.cooperative, { log });
        await until(
          () => task.state === 'RUNNING' && readFileSync(log, 'utf8').includes('invoked'),
          'RUNNING',
        );
        task.cancel();
        expect(task.state).toBe('CANCELING');
        const outcome = await task.done;
        expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
        expect(readFileSync(log, 'utf8')).toContain('cancel-hook');
      });

      it('cancelling a task that has not started never invokes it', { timeout }, async () => {
        start();
        const log = logFile();
        const task = submit(fixtures.record, { log });
        task.cancel();
        const outcome = await task.done;
        expect(outcome.state).toBe('CANCELED');
        expect(readFileSync(log, 'utf8')).toBe('');
      });

      it('fail() stops the work and keeps the external cause', { timeout }, async () => {
        start();
        const log = logFile();
        const task = submit(fixtures.cooperative, { log });
        await until(() => task.state === 'RUNNING', 'RUNNING');
        const cause = new Error('external failure');
        task.fail(cause);
        expect(task.state).toBe('FAILED');
        const outcome = await task.done;
        expect(outcome.state).toBe('FAILED');
        expect(outcome.error).toBe(cause);
      });

      if (capabilities.hardStop) {
        it('hard-stops work that ignores cancellation (capabilities.hardStop)', { timeout }, async () => {
          start(2, { interruptIntervalMs: 100, gracePeriodMs: 200, timeoutMs: 10_000 });
          const log = logFile();
          const task = submit(fixtures.busy, { log });
          await until(() => readFileSync(log, 'utf8').includes('invoked'), 'the busy task to start');
          task.cancel();
          const outcome = await task.done;
          expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
          // The executor recovered its capacity.
          expect(await submit(fixtures.echo, 'after').done).toMatchObject({
            state: 'FINISHED',
            result: 'after',
          });
        });
      } else {
        it('without a hard stop, the watchdog ends a task that ignores cancellation', {
          timeout,
        }, async () => {
          const rt = start(2, { interruptIntervalMs: 50, gracePeriodMs: 100, timeoutMs: 300 });
          const task = submit(fixtures.deaf, { ms: 2_000 });
          await until(() => task.state === 'RUNNING', 'RUNNING');
          task.cancel();
          const outcome = await task.done;
          expect(outcome).toMatchObject({ state: 'FAILED', cancellationRequested: true, abandoned: true });
          expect(outcome.error?.name).toBe('CancellationTimeoutError');
          expect(rt.health).toBe('fatal');
        });
      }

      if (limitsConcurrency) {
        it('tasks beyond capacity wait in DEPLOYING and are cancelled without being invoked', {
          timeout,
        }, async () => {
          start(1);
          const blockerLog = logFile();
          const waitingLog = logFile();
          const blocker = submit(fixtures.cooperative, { log: blockerLog });
          await until(() => blocker.state === 'RUNNING', 'the blocker to run');
          const waiting = [
            submit(fixtures.record, { log: waitingLog }),
            submit(fixtures.record, { log: waitingLog }),
          ];
          await new Promise((resolve) => setTimeout(resolve, 50));
          for (const task of waiting) expect(task.state).toBe('DEPLOYING');
          for (const task of waiting) task.cancel();
          for (const task of waiting) expect((await task.done).state).toBe('CANCELED');
          blocker.cancel();
          expect((await blocker.done).state).toBe('CANCELED');
          expect(readFileSync(waitingLog, 'utf8')).toBe('');
          // Capacity is back: a new task runs.
          expect(await submit(fixtures.echo, 1).done).toMatchObject({
            state: 'FINISHED',
            result: 1,
          });
        });
      }

      if (isolatesCrashes) {
        it('a crash fails only that task; the executor goes on', { timeout }, async () => {
          start();
          const log = logFile();
          const bystander = submit(fixtures.cooperative, { log });
          const crashed = await submit(fixtures.crash).done;
          expect(crashed.state).toBe('FAILED');
          expect(crashed.error).toBeInstanceOf(Error);
          expect(bystander.state).not.toBe('FAILED');
          expect(await submit(fixtures.echo, 'alive').done).toMatchObject({
            state: 'FINISHED',
            result: 'alive',
          });
          bystander.cancel();
          expect((await bystander.done).state).toBe('CANCELED');
        });
      }

      it('close() stops running work and leaves nothing running', { timeout }, async () => {
        const rt = start();
        const log = logFile();
        const tasks = [submit(fixtures.cooperative, { log }), submit(fixtures.echo, 'x')];
        await until(() => tasks[0]?.state === 'RUNNING', 'RUNNING');
        runtime = undefined;
        const closed = executor;
        executor = undefined;
        await rt.close();
        expect(rt.health).toBe('closed');
        for (const task of tasks) expect(['FINISHED', 'CANCELED']).toContain((await task.done).state);
        if (closed && options.liveResources) expect(await options.liveResources(closed)).toBe(0);
        expect(scheduler.live).toBe(0);
        expect(rt.slotTable.getSlotReport().every((slot) => slot.state === 'FREE')).toBe(true);
      });
    });
  }

  /** The SPI contract itself: launch() with a hand-built spec, and what the execution reports. */
  function describeDirectly(): void {
    describe('directly (launch and report, no runtime)', () => {
      let executor: TExecutor | undefined;
      let runs: DirectLaunch[] = [];
      let dir = '';
      let counter = 0;

      function open(maxConcurrency = 2): TExecutor {
        dir = mkdtempSync(join(tmpdir(), 'taskwarden-conformance-direct-'));
        executor = createExecutor({ maxConcurrency });
        return executor;
      }

      function launch(
        invokable: ModuleReference,
        input?: unknown,
        transform?: DirectLaunchTransform,
      ): DirectLaunch {
        if (!executor) throw new Error('open() first');
        const run = launchDirectly(executor, {
          invokable,
          input,
          cancellation: { interruptIntervalMs: 100, gracePeriodMs: 200, timeoutMs: 10_000 },
          ...(transform ? { transform } : {}),
        });
        runs.push(run);
        return run;
      }

      function logFile(): string {
        const file = join(dir, `log-${counter++}.txt`);
        writeFileSync(file, '');
        return file;
      }

      /** The kinds reported, without `attach` (which is optional). */
      const kinds = (run: DirectLaunch): string[] =>
        run.reports.map((report) => report.kind).filter((kind) => kind !== 'attach');
      const outcomes = (run: DirectLaunch): number =>
        run.reports.filter((report) => report.kind === 'finished' || report.kind === 'failed').length;

      afterEach(async () => {
        const closing = executor;
        const pending = runs;
        executor = undefined;
        runs = [];
        if (closing) {
          // Whatever a failed test left running is stopped the way the runtime would.
          for (const run of pending) {
            run.execution.cancel(new Error('conformance cleanup'));
            if (capabilities.hardStop) await run.execution.kill?.().catch(() => undefined);
          }
          await closing.close();
          for (const run of pending) await run.outcome;
          if (options.liveResources) expect(await options.liveResources(closing)).toBe(0);
        }
        if (dir) rmSync(dir, { recursive: true, force: true });
      }, timeout);

      it('reports running before exactly one outcome: the echoed input', { timeout }, async () => {
        open();
        const input =
          serialization === 'json' ? { list: [1, 2], text: 'x' } : { list: [1, 2], when: new Date(0) };
        const run = launch(fixtures.echo, input);
        expect(await run.outcome).toEqual({ ok: true, value: input });
        await sleep(50); // nothing is reported after the outcome
        const seen = kinds(run);
        expect(seen.at(-1)).toBe('finished');
        expect(seen.indexOf('running')).toBeGreaterThanOrEqual(0);
        expect(seen.indexOf('running')).toBeLessThan(seen.indexOf('finished'));
        if (seen.includes('started')) expect(seen.indexOf('started')).toBeLessThan(seen.indexOf('running'));
        expect(outcomes(run)).toBe(1);
      });

      it('reports the thrown error as the one outcome', { timeout }, async () => {
        open();
        const run = launch(fixtures.throws, { message: 'direct boom' });
        const outcome = await run.outcome;
        expect(outcome.ok).toBe(false);
        if (!outcome.ok) {
          expect(outcome.error.name).toBe('ConformanceError');
          expect(outcome.error.message).toBe('direct boom');
        }
        await sleep(50);
        expect(outcomes(run)).toBe(1);
      });

      it('runs a spread launch spec: { ...spec, input }', { timeout }, async () => {
        open();
        const run = launch(fixtures.echo, 'original', (spec) => ({ ...spec, input: 'from the copy' }));
        expect(await run.outcome).toEqual({ ok: true, value: 'from the copy' });
      });

      it('cancel() ends cooperative work with one failed outcome; a second cancel changes nothing', {
        timeout,
      }, async () => {
        open();
        const log = logFile();
        const run = launch(fixtures.cooperative, { log });
        await run.running;
        await until(() => readFileSync(log, 'utf8').includes('invoked'), 'the work to start');
        const reason = new Error('direct cancel');
        run.execution.cancel(reason);
        run.execution.cancel(new Error('second cancel'));
        const outcome = await run.outcome;
        expect(outcome.ok).toBe(false);
        expect(readFileSync(log, 'utf8')).toContain('cancel-hook');
        await sleep(50);
        expect(outcomes(run)).toBe(1);
        // After the outcome, cancel() is a no-op that does not throw.
        expect(() => run.execution.cancel(new Error('late'))).not.toThrow();
      });

      if (capabilities.hardStop) {
        it('kill() ends work that ignores cancellation, within capabilities.hardStopMs', {
          timeout,
        }, async () => {
          open();
          const log = logFile();
          const run = launch(fixtures.busy, { log });
          await until(() => readFileSync(log, 'utf8').includes('invoked'), 'the busy work to start');
          run.execution.cancel(new Error('ignored'));
          const startedAt = Date.now();
          const kill = run.execution.kill;
          expect(typeof kill).toBe('function');
          await kill?.call(run.execution);
          const outcome = await run.outcome;
          const tookMs = Date.now() - startedAt;
          expect(outcome.ok).toBe(false);
          const bound = capabilities.hardStopMs;
          if (bound !== undefined && bound > 0) expect(tookMs).toBeLessThanOrEqual(bound + 1_000);
          expect(outcomes(run)).toBe(1);
        });
      }

      it('after close(), a launch fails (throws or reports failed) and nothing runs', {
        timeout,
      }, async () => {
        const subject = open();
        await subject.close();
        const log = logFile();
        let outcome: DirectOutcome | 'threw';
        try {
          outcome = await launch(fixtures.record, { log }).outcome;
        } catch {
          outcome = 'threw';
        }
        expect(outcome === 'threw' || !outcome.ok).toBe(true);
        await sleep(50);
        expect(readFileSync(log, 'utf8')).toBe('');
      });
    });
  }
}

type DirectLaunchTransform = (spec: LaunchSpec) => LaunchSpec;
