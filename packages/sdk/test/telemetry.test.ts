// Issue 18: OpenTelemetry metrics and one span per task, through @opentelemetry/api only. The host
// registers the OpenTelemetry SDK (here its in-memory reader and exporter); the instruments and the
// span of OBSERVABILITY.md follow, durations in seconds.
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executor } from '../src/index.js';
import { createRuntime } from '../src/index.js';
import { TIMINGS, testRuntime } from './helpers.js';

class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const reader = new TestReader();
const spans = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
});
afterAll(() => {
  metrics.disable();
  trace.disable();
  context.disable();
});

type Point = { attributes: Record<string, unknown>; value: unknown };

async function points(name: string): Promise<Point[]> {
  const { resourceMetrics } = (await reader.collect()) as { resourceMetrics: ResourceMetrics };
  const found: Point[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    if (scope.scope.name !== '@taskwarden/sdk') continue;
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const point of metric.dataPoints) found.push(point as unknown as Point);
    }
  }
  return found;
}

describe('OpenTelemetry metrics', () => {
  it('records duration (s), ended, cancel duration by stage, stuck, fatal errors and slots', async () => {
    const t = testRuntime({ hardStop: true, killStops: false, hardStopMs: 100 });
    const done = t.submit({ name: 'quick' });
    (await t.executor.nextLaunch(0)).finish(1);
    await done.done;
    const cancelled = t.submit({ name: 'cancelled' });
    const run = await t.executor.nextLaunch(1);
    run.run();
    cancelled.cancel();
    await t.scheduler.advanceAsync(TIMINGS.interruptIntervalMs);
    run.throw(new Error('stopped'));
    await cancelled.done;
    const deaf = t.submit({ name: 'deaf' });
    (await t.executor.nextLaunch(2)).run();
    deaf.cancel();
    await t.scheduler.advanceAsync(TIMINGS.timeoutMs + 200);
    expect((await deaf.done).abandoned).toBe(true);

    const durations = await points('taskwarden.task.duration');
    const finished = durations.find((p) => p.attributes.state === 'FINISHED');
    expect(finished?.attributes).toEqual({ executor: 'scripted', state: 'FINISHED' });
    const histogram = finished?.value as { count: number; sum: number; max: number };
    expect(histogram.count).toBe(1);
    // Seconds, not milliseconds: a task that ended at once took far less than a second.
    expect(histogram.max).toBeLessThan(1);
    // One point: its sum is that one duration.
    expect(histogram.sum).toBe(histogram.max);

    const ended = await points('taskwarden.tasks.ended');
    expect(ended.map((p) => [p.attributes.state, p.attributes.abandoned, p.value]).sort()).toEqual([
      ['CANCELED', false, 1],
      ['FAILED', true, 1],
      ['FINISHED', false, 1],
    ]);
    const cancels = await points('taskwarden.task.cancel.duration');
    expect(cancels.map((p) => p.attributes.stage).sort()).toEqual(['signal', 'watchdog']);
    expect(
      (await points('taskwarden.tasks.stuck')).reduce((n, p) => n + (p.value as number), 0),
    ).toBeGreaterThan(0);
    expect(await points('taskwarden.fatal_errors')).toEqual([
      expect.objectContaining({ attributes: { 'error.type': 'CancellationTimeoutError' }, value: 1 }),
    ]);
    const slots = await points('taskwarden.slots');
    expect(Object.fromEntries(slots.map((p) => [p.attributes.state, p.value]))).toMatchObject({
      FREE: 1,
      ACTIVE: 1,
    });
    await t.runtime.close();
  });
});

describe('one span per task', () => {
  it('from submit to done, with ids, the final state, an event per transition and stage, under the active span', async () => {
    spans.reset();
    const t = testRuntime();
    const tracer = trace.getTracer('test');
    const task = tracer.startActiveSpan('request', (parent) => {
      const submitted = t.submit({ name: 'traced' });
      parent.end();
      return submitted;
    });
    const run = await t.executor.nextLaunch();
    run.run();
    task.cancel();
    run.throw(new Error('aborted'));
    await task.done;
    const failing = t.submit({ name: 'failing' });
    (await t.executor.nextLaunch(1)).throw(new Error('boom'));
    await failing.done;

    const finished = spans.getFinishedSpans();
    const parent = finished.find((span) => span.name === 'request');
    const span = finished.find((span) => span.name === 'taskwarden.task traced');
    expect(span).toBeDefined();
    expect(span?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
    expect(span?.spanContext().traceId).toBe(parent?.spanContext().traceId);
    expect(span?.attributes).toMatchObject({
      'taskwarden.execution_id': task.executionId,
      'taskwarden.job_id': 'job',
      'taskwarden.executor': 'scripted',
      'taskwarden.state': 'CANCELED',
    });
    expect(span?.events.map((event) => event.name)).toEqual([
      'state DEPLOYING',
      'state INITIALIZING',
      'state RUNNING',
      'state CANCELING',
      'cancellation signal',
      'state CANCELED',
    ]);
    const failed = finished.find((s) => s.name === 'taskwarden.task failing');
    expect(failed?.status).toMatchObject({ code: 2, message: 'boom' });
    expect(failed?.parentSpanContext).toBeUndefined();
    await t.runtime.close();
  });

  it('launches the work in the task span’s context, so an executor can carry it on', async () => {
    spans.reset();
    let launchedIn: string | undefined;
    const executor: Executor = {
      name: 'carrier',
      capabilities: { hardStop: false, diagnostics: false, isolation: 'host' },
      launch(spec) {
        // What a remote executor propagates to where the work runs.
        launchedIn = trace.getSpan(context.active())?.spanContext().spanId;
        spec.report.running();
        spec.report.finished('remote');
        return { cancel: () => undefined };
      },
      close: async () => undefined,
    };
    const runtime = createRuntime({
      numberOfSlots: 1,
      executors: { carrier: executor },
      logger: pino({ level: 'silent' }),
    });
    runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
    runtime.slotTable.markSlotActive('slot');
    const task = runtime.submit({
      jobId: 'job',
      allocationId: 'slot',
      name: 'carried',
      invokable: { module: 'x' },
    });
    await task.done;
    const span = spans.getFinishedSpans().find((s) => s.name === 'taskwarden.task carried');
    expect(launchedIn).toBeDefined();
    expect(launchedIn).toBe(span?.spanContext().spanId);
    // Outside the launch, nothing leaks into the caller's context.
    expect(trace.getSpan(context.active())).toBeUndefined();
    await runtime.close();
  });
});
