/**
 * An executor written only against the public SPI runs as fast as the built-in inline executor.
 *
 * Two minimal inline executors, imported from `@taskwarden/sdk` only (no `/internal`, no private
 * hook): one built on `BaseExecution`, one on the raw reporter (`spec.report`). Each runs the same
 * workloads as the built-in `InlineExecutor` in the same runtime configuration:
 * - `async`: the inline-async benchmark's user task (an invokable object with an async `invoke`, a
 *   new descriptor with its input per task, the result checked, 64 in flight, default logger);
 * - `sync no-op`: the inline-throughput benchmark's case (one reused descriptor, a synchronous
 *   no-op function).
 *
 * Rounds alternate the three executors per workload (three times the harness's rounds; the ratio
 * is the median of the rounds' ratios). Target: each public-SPI executor within 10% of the built-in
 * one (ratio >= 0.9).
 *
 *   npm run build && node bench/public-spi-executor.js
 */
import { InlineExecutor } from '@taskwarden/executor-local';
import { BaseExecution, createRuntime } from '@taskwarden/sdk';
import { alternate, isMain, pairedRatio, printResult } from './lib/stats.js';

const TASKS = 100_000;
const IN_FLIGHT = 64;
const TARGET = 0.9;

const CAPABILITIES = Object.freeze({ hardStop: false, diagnostics: false, isolation: 'none' });

/** The invocation context of both minimal executors; the AbortSignal is made only when read. */
class Context {
  #spec;
  #controller;
  #onProgress;
  aborted = false;
  reason;

  constructor(spec, onProgress) {
    this.#spec = spec;
    this.#onProgress = onProgress;
  }
  get input() {
    return this.#spec.input;
  }
  get task() {
    return this.#spec.task;
  }
  get logger() {
    return this.#spec.logger;
  }
  get signal() {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }
  reportProgress(value) {
    this.#onProgress(value);
  }
  abort(reason) {
    if (this.aborted) return false;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    return true;
  }
}

const asInvokable = (ref) => (typeof ref === 'function' ? { invoke: ref } : ref);

/** Runs the invokable's `invoke` and returns its value or promise (no `restore`, no modules). */
function invoke(invokable, context, onRunning) {
  if (context.aborted) throw context.reason;
  onRunning();
  return invokable.invoke(context);
}

/** Minimal executor #1: the bookkeeping left to `BaseExecution`. */
class BaseInlineExecution extends BaseExecution {
  #context;
  #invokable;

  constructor(spec) {
    super(spec);
    this.#invokable = asInvokable(spec.invokable);
    this.#context = new Context(spec, (value) => this.reportProgress(value));
    let value;
    try {
      value = invoke(this.#invokable, this.#context, () => this.markRunning());
    } catch (error) {
      this.reject(error);
      return;
    }
    if (value instanceof Promise) {
      value.then(
        (result) => this.resolve(result),
        (error) => this.reject(error),
      );
    } else this.resolve(value);
  }

  onCancel(reason) {
    if (this.#context.abort(reason)) this.#invokable.cancel?.(this.#context);
  }
}

class BaseInlineExecutor {
  name = 'base-inline';
  capabilities = CAPABILITIES;
  launch(spec) {
    return new BaseInlineExecution(spec);
  }
  async close() {}
}

/** Minimal executor #2: talks to `spec.report` directly. */
class RawInlineExecution {
  #context;
  #invokable;

  constructor(context, invokable) {
    this.#context = context;
    this.#invokable = invokable;
  }

  cancel(reason) {
    if (this.#context.abort(reason)) this.#invokable.cancel?.(this.#context);
  }
}

class RawInlineExecutor {
  name = 'raw-inline';
  capabilities = CAPABILITIES;
  launch(spec) {
    const report = spec.report;
    const invokable = asInvokable(spec.invokable);
    const context = new Context(spec, (value) => report.progress(value));
    const execution = new RawInlineExecution(context, invokable);
    // Task code runs before launch() returns: attach first so a cancel from it reaches the signal.
    report.attach(execution);
    let value;
    try {
      value = invoke(invokable, context, () => report.running());
    } catch (error) {
      report.failed(error);
      return execution;
    }
    if (value instanceof Promise) {
      value.then(
        (result) => report.finished(result),
        (error) => report.failed(error),
      );
    } else report.finished(value);
    return execution;
  }
  async close() {}
}

const addOne = { invoke: async (ctx) => ctx.input + 1 };
const noop = () => undefined;

/** Tasks/s of one workload on a fresh runtime (defaults) with `executor`. */
async function measure(executor, workload) {
  const runtime = createRuntime({ numberOfSlots: 1, executors: { inline: executor } });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'bench', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  const reused = { jobId: 'bench', allocationId: 'slot', invokable: noop };
  const started = performance.now();
  let submitted = 0;
  const lane =
    workload === 'async'
      ? async () => {
          while (submitted < TASKS) {
            const input = submitted++;
            const task = runtime.submit({ jobId: 'bench', allocationId: 'slot', invokable: addOne, input });
            const outcome = await task.done;
            if (outcome.result !== input + 1) throw new Error(`wrong outcome ${JSON.stringify(outcome)}`);
          }
        }
      : async () => {
          while (submitted < TASKS) {
            submitted++;
            const outcome = await runtime.submit(reused).done;
            if (outcome.state !== 'FINISHED') throw new Error(`task ended ${outcome.state}`);
          }
        };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const elapsed = performance.now() - started;
  await runtime.close();
  return (TASKS / elapsed) * 1000;
}

export async function run({ rounds = 5 } = {}) {
  const results = [];
  for (const workload of ['async', 'sync no-op']) {
    const stats = await alternate(
      {
        builtin: () => measure(new InlineExecutor(), workload),
        base: () => measure(new BaseInlineExecutor(), workload),
        raw: () => measure(new RawInlineExecutor(), workload),
      },
      { rounds: rounds * 3 },
    );
    const peers = { InlineExecutor: stats.builtin };
    results.push({ metric: `${workload}: built-in InlineExecutor`, unit: 'tasks/s', ours: stats.builtin });
    for (const [key, label] of [
      ['base', 'public SPI, BaseExecution'],
      ['raw', 'public SPI, raw reporter'],
    ]) {
      const ratio = pairedRatio(stats[key], stats.builtin);
      results.push({
        metric: `${workload}: ${label}`,
        unit: 'tasks/s',
        ours: stats[key],
        peers,
        ratio,
        target: `>= ${TARGET}x InlineExecutor`,
        met: ratio >= TARGET,
      });
    }
  }
  return {
    name: 'public-spi-executor',
    description: `minimal inline executors on the public SPI vs the built-in one; ${IN_FLIGHT} in flight, ${TASKS.toLocaleString('en-US')} tasks per round, default logger`,
    results,
  };
}

if (isMain(import.meta.url)) printResult(await run());
