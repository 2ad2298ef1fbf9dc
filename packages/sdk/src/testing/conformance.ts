import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EmitOnlyFatalErrorHandler } from '../fatal/emit-only-fatal-error-handler.js';
import type { Executor } from '../interfaces/executor.js';
import type { TaskRuntime } from '../interfaces/runtime.js';
import type { ScheduledTimer, Scheduler } from '../interfaces/scheduler.js';
import type { Task, TaskDescriptor } from '../interfaces/task.js';
import { createRuntime } from '../runtime/create-runtime.js';
import { SystemScheduler } from '../scheduler/system-scheduler.js';

/** Options of {@link describeExecutorConformance}. */
export interface ExecutorConformanceOptions {
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
  liveResources?: (executor: Executor) => number | Promise<number>;
  /** Per-test timeout; default 30 000 ms. */
  testTimeoutMs?: number;
}

/** Paths of the fixture modules the suite runs (plain ESM files shipped with the SDK). */
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

/** Counts live timers so the suite can prove the runtime leaks none. */
class CountingScheduler implements Scheduler {
  readonly #inner = new SystemScheduler();
  live = 0;

  schedule(delayMs: number, callback: () => void): ScheduledTimer {
    let settled = false;
    const settle = () => {
      if (!settled) {
        settled = true;
        this.live--;
      }
    };
    const timer = this.#inner.schedule(delayMs, () => {
      settle();
      callback();
    });
    this.live++;
    return {
      cancel: () => {
        settle();
        timer.cancel();
      },
    };
  }

  now(): number {
    return this.#inner.now();
  }
}

/**
 * Registers a vitest suite with the behaviours every executor must show. Executor authors run it
 * against their executor; both built-in executor packages run it against theirs.
 *
 * The fixtures are modules given as `{ module }` references, so the executor must accept module
 * references (isolated executors accept nothing else).
 *
 * @example
 * ```ts
 * // my-executor.conformance.test.ts
 * import { describeExecutorConformance } from '@taskwarden/sdk/testing';
 * import { MyExecutor } from '../src/my-executor.js';
 *
 * describeExecutorConformance('MyExecutor', ({ maxConcurrency }) => new MyExecutor({ max: maxConcurrency }), {
 *   liveResources: (executor) => (executor as MyExecutor).liveCount,
 * });
 * ```
 */
export function describeExecutorConformance(
  name: string,
  createExecutor: (options: { maxConcurrency: number }) => Executor,
  options: ExecutorConformanceOptions = {},
): void {
  const timeout = options.testTimeoutMs ?? 30_000;
  // Which behaviours apply is decided when the suite is registered, so no test is ever skipped.
  const probe = createExecutor({ maxConcurrency: 1 });
  const { capabilities } = probe;
  const limitsConcurrency = options.limitsConcurrency ?? true;
  const isolatesCrashes = options.isolatesCrashes ?? capabilities.isolation !== 'none';

  describe(`executor conformance: ${name}`, () => {
    afterAll(() => probe.close());

    let runtime: TaskRuntime | undefined;
    let executor: Executor | undefined;
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

    function submit(module: string, input?: unknown, extra: Partial<TaskDescriptor> = {}): Task {
      if (!runtime) throw new Error('start() first');
      return runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: { module }, input, ...extra });
    }

    function logFile(): string {
      const file = join(dir, `log-${counter++}.txt`);
      writeFileSync(file, '');
      return file;
    }

    async function until(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
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

    it('returns the result of invoke (structured-clone round trip)', { timeout }, async () => {
      start();
      const input = { text: 'héllo', list: [1, 2, 3], nested: { when: new Date(0), big: 10n } };
      const outcome = await submit(conformanceFixtures.echo, input).done;
      expect(outcome).toMatchObject({ state: 'FINISHED', cancellationRequested: false, abandoned: false });
      expect(outcome.result).toEqual(input);
    });

    it('fails with the thrown error, keeping name, message, code and fields', { timeout }, async () => {
      start();
      const task = submit(conformanceFixtures.throws, { message: 'conformance boom' });
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
      const noModule = await submit(missing).done;
      expect(noModule.state).toBe('FAILED');
      expect(noModule.error?.message).toContain('taskwarden-no-such-module.mjs');
      const noExport = await submit(conformanceFixtures.echo, undefined, {
        invokable: { module: conformanceFixtures.echo, export: 'nope' },
      }).done;
      expect(noExport.state).toBe('FAILED');
      expect(noExport.error?.message).toContain("'nope'");
      const next = await submit(conformanceFixtures.echo, 7).done;
      expect(next).toMatchObject({ state: 'FINISHED', result: 7 });
    });

    it('cancels cooperatively: aborts the signal and calls the cancel() hook', { timeout }, async () => {
      start();
      const log = logFile();
      const task = submit(conformanceFixtures.cooperative, { log });
      await until(() => task.state === 'RUNNING' && readFileSync(log, 'utf8').includes('invoked'), 'RUNNING');
      task.cancel();
      expect(task.state).toBe('CANCELING');
      const outcome = await task.done;
      expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
      expect(readFileSync(log, 'utf8')).toContain('cancel-hook');
    });

    it('cancelling a task that has not started never invokes it', { timeout }, async () => {
      start();
      const log = logFile();
      const task = submit(conformanceFixtures.record, { log });
      task.cancel();
      const outcome = await task.done;
      expect(outcome.state).toBe('CANCELED');
      expect(readFileSync(log, 'utf8')).toBe('');
    });

    it('fail() stops the work and keeps the external cause', { timeout }, async () => {
      start();
      const log = logFile();
      const task = submit(conformanceFixtures.cooperative, { log });
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
        const task = submit(conformanceFixtures.busy, { log });
        await until(() => readFileSync(log, 'utf8').includes('invoked'), 'the busy task to start');
        task.cancel();
        const outcome = await task.done;
        expect(outcome).toMatchObject({ state: 'CANCELED', cancellationRequested: true, abandoned: false });
        // The executor recovered its capacity.
        expect(await submit(conformanceFixtures.echo, 'after').done).toMatchObject({
          state: 'FINISHED',
          result: 'after',
        });
      });
    } else {
      it('without a hard stop, the watchdog ends a task that ignores cancellation', { timeout }, async () => {
        const rt = start(2, { interruptIntervalMs: 50, gracePeriodMs: 100, timeoutMs: 300 });
        const task = submit(conformanceFixtures.deaf, { ms: 2_000 });
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
        const blocker = submit(conformanceFixtures.cooperative, { log: blockerLog });
        await until(() => blocker.state === 'RUNNING', 'the blocker to run');
        const waiting = [
          submit(conformanceFixtures.record, { log: waitingLog }),
          submit(conformanceFixtures.record, { log: waitingLog }),
        ];
        await new Promise((resolve) => setTimeout(resolve, 50));
        for (const task of waiting) expect(task.state).toBe('DEPLOYING');
        for (const task of waiting) task.cancel();
        for (const task of waiting) expect((await task.done).state).toBe('CANCELED');
        blocker.cancel();
        expect((await blocker.done).state).toBe('CANCELED');
        expect(readFileSync(waitingLog, 'utf8')).toBe('');
        // Capacity is back: a new task runs.
        expect(await submit(conformanceFixtures.echo, 1).done).toMatchObject({
          state: 'FINISHED',
          result: 1,
        });
      });
    }

    if (isolatesCrashes) {
      it('a crash fails only that task; the executor goes on', { timeout }, async () => {
        start();
        const log = logFile();
        const bystander = submit(conformanceFixtures.cooperative, { log });
        const crashed = await submit(conformanceFixtures.crash).done;
        expect(crashed.state).toBe('FAILED');
        expect(crashed.error).toBeInstanceOf(Error);
        expect(bystander.state).not.toBe('FAILED');
        expect(await submit(conformanceFixtures.echo, 'alive').done).toMatchObject({
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
      const tasks = [submit(conformanceFixtures.cooperative, { log }), submit(conformanceFixtures.echo, 'x')];
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
