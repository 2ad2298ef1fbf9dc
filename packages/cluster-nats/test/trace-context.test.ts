// OBSERVABILITY.md: "A parent context active at `submit` becomes the span's parent; the remote
// executor carries it to the agent." A real nats-server, a coordinator and an agent in this process
// (so one in-memory exporter sees both sides' spans): the agent's `taskwarden.task` span is a child of
// the coordinator's, in the same trace, when a propagator is registered, and a root without one (the
// negative control). Garbage in the trace-context field of an offer is logged and ignored; the task
// still runs.
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { Context, SpanContext, TextMapPropagator } from '@opentelemetry/api';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { Agent } from '@taskwarden/cluster-nats';
import { startAgent } from '@taskwarden/cluster-nats';
import { WorkerExecutor } from '@taskwarden/executor-local';
import type { Execution, Executor, LaunchSpec } from '@taskwarden/sdk';
import { captureLogger } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decode, encode, encodeValue } from '../src/protocol/codec.js';
import type { OfferedTaskWire, OfferMessage } from '../src/protocol/messages.js';
import { ClusterNames, coordinatorLeaseKey } from '../src/protocol/subjects.js';
import { fixture, useCluster } from './support/cluster-harness.js';

const spans = new InMemorySpanExporter();
const tracer = () => trace.getTracer('trace-context.test');

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
});
afterEach(() => {
  propagation.disable();
  spans.reset();
});
afterAll(() => {
  trace.disable();
  propagation.disable();
  context.disable();
});

/** Wraps the agent's executor: records the context each task is launched in. */
class Recording implements Executor {
  readonly name = 'recording';
  readonly inner = new WorkerExecutor();
  readonly capabilities = this.inner.capabilities;
  readonly launches = new Map<string, Context>();
  launch(spec: LaunchSpec): Execution {
    this.launches.set(spec.task.executionId, context.active());
    return this.inner.launch(spec);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function taskSpans(executionId: string): { coordinator?: ReadableSpan; agent?: ReadableSpan } {
  const mine = spans
    .getFinishedSpans()
    .filter((span) => span.attributes['taskwarden.execution_id'] === executionId);
  return {
    coordinator: mine.find((span) => span.instrumentationScope.name === '@taskwarden/sdk'),
    agent: mine.find((span) => span.instrumentationScope.name === '@taskwarden/cluster-nats'),
  };
}

async function eventually<T>(read: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the trace context travels from the coordinator to the agent', () => {
  const cluster = useCluster();

  /** An agent in this process, and a stranger's connection that sees every offer sent to it. */
  async function setUp(agentName: string, logger = pino({ level: 'silent' })) {
    const name = cluster.newCluster();
    const executor = new Recording();
    const agent = await startAgent({
      servers: cluster.server.url,
      cluster: name,
      name: agentName,
      capacity: 16,
      executors: { worker: executor },
      logger,
    });
    const watcher = await connect({ servers: cluster.server.url });
    const offers: Array<Record<string, unknown>> = [];
    watcher.subscribe(new ClusterNames(name).agentOffer(agentName), {
      callback: (_error, msg) => {
        offers.push(decode(msg.data) as Record<string, unknown>);
      },
    });
    await watcher.flush();
    return { name, agent, executor, watcher, offers };
  }

  async function tearDown(agent: Agent, watcher: NatsConnection): Promise<void> {
    await watcher.close();
    await agent.close({ graceMs: 1_000 });
  }

  it("with a W3C propagator: the agent's span is a child of the coordinator's task span, baggage included", async () => {
    propagation.setGlobalPropagator(
      new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    );
    const { name, agent, executor, watcher, offers } = await setUp('otel-1');
    try {
      const { submit } = cluster.coordinator({ cluster: name, agentExecutor: 'worker' });
      const parent = tracer().startSpan('handle request');
      const parentContext = propagation.setBaggage(
        trace.setSpan(context.active(), parent),
        propagation.createBaggage({ tenant: { value: 'acme' } }),
      );
      const task = context.with(parentContext, () => submit(fixture('echo.mjs'), 'hi', { name: 'traced' }));
      expect(await task.done).toMatchObject({ state: 'FINISHED' });
      parent.end();

      const found = await eventually(() => {
        const { coordinator, agent } = taskSpans(task.executionId);
        return coordinator && agent ? { coordinator, agent } : undefined;
      });
      const coordinatorSpan = found.coordinator.spanContext();
      const agentSpan = found.agent.spanContext();
      // The coordinator's span: child of the context active at submit.
      expect(coordinatorSpan.traceId).toBe(parent.spanContext().traceId);
      expect(found.coordinator.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
      // The agent's span: same trace, its parent the coordinator's task span, across the network.
      expect(found.agent.name).toBe('taskwarden.task traced');
      expect(agentSpan.traceId).toBe(coordinatorSpan.traceId);
      expect(found.agent.parentSpanContext?.spanId).toBe(coordinatorSpan.spanId);
      expect(found.agent.parentSpanContext?.isRemote).toBe(true);
      expect(found.agent.kind).toBe(SpanKind.CONSUMER);
      expect(found.agent.attributes).toMatchObject({
        'taskwarden.execution_id': task.executionId,
        'taskwarden.agent': 'otel-1',
        'taskwarden.executor': 'worker',
        'taskwarden.outcome': 'finished',
      });
      expect(found.agent.events.map((event) => event.name)).toEqual(['started', 'running']);

      // The work was launched in the agent span's context, with the coordinator's baggage.
      const launched = executor.launches.get(task.executionId) as Context;
      expect(trace.getSpanContext(launched)?.spanId).toBe(agentSpan.spanId);
      expect(propagation.getBaggage(launched)?.getEntry('tenant')?.value).toBe('acme');

      // On the wire: what the propagator wrote, in the offer's `trace` field.
      const offer = offers.find((o) => (o.tasks as OfferedTaskWire[]).some((t) => t[0] === task.executionId));
      const carrier = (offer?.trace as Array<Record<string, string>> | undefined)?.[0];
      expect(carrier).toEqual({
        traceparent: `00-${coordinatorSpan.traceId}-${coordinatorSpan.spanId}-01`,
        baggage: 'tenant=acme',
      });
    } finally {
      await tearDown(agent, watcher);
    }
  });

  it("negative control: without a propagator nothing is sent and the agent's span is a root of another trace", async () => {
    const { name, agent, executor, watcher, offers } = await setUp('otel-2');
    try {
      const { submit } = cluster.coordinator({ cluster: name, agentExecutor: 'worker' });
      const parent = tracer().startSpan('handle request');
      const task = context.with(trace.setSpan(context.active(), parent), () =>
        submit(fixture('echo.mjs'), 'hi', { name: 'untraced' }),
      );
      expect(await task.done).toMatchObject({ state: 'FINISHED' });
      parent.end();

      const found = await eventually(() => {
        const { coordinator, agent } = taskSpans(task.executionId);
        return coordinator && agent ? { coordinator, agent } : undefined;
      });
      // The coordinator's side still has its local parent ...
      expect(found.coordinator.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
      // ... but nothing reached the agent: its span starts a trace of its own.
      expect(found.agent.parentSpanContext).toBeUndefined();
      expect(found.agent.spanContext().traceId).not.toBe(found.coordinator.spanContext().traceId);
      expect(trace.getSpanContext(executor.launches.get(task.executionId) as Context)?.spanId).toBe(
        found.agent.spanContext().spanId,
      );
      // Not a byte for it on the wire: the offer has no `trace` field at all.
      const offer = offers.find((o) => (o.tasks as OfferedTaskWire[]).some((t) => t[0] === task.executionId));
      expect(offer).toBeDefined();
      expect(Object.hasOwn(offer as object, 'trace')).toBe(false);
    } finally {
      await tearDown(agent, watcher);
    }
  });

  it('a propagator that writes garbage or throws on the coordinator: logged once at warn, nothing sent, the task runs', async () => {
    const { name, agent, watcher, offers } = await setUp('otel-3');
    const captured = captureLogger('warn');
    try {
      const { submit } = cluster.coordinator({
        cluster: name,
        agentExecutor: 'worker',
        logger: captured.logger,
      });
      const hostile: TextMapPropagator[] = [
        {
          inject: (_ctx, carrier) =>
            Object.assign(carrier as object, { traceparent: 42, big: 'x'.repeat(50_000) }),
          extract: (ctx) => ctx,
          fields: () => [],
        },
        {
          inject: () => {
            throw new Error('propagator broke');
          },
          extract: (ctx) => ctx,
          fields: () => [],
        },
      ];
      for (const propagator of hostile) {
        propagation.disable();
        propagation.setGlobalPropagator(propagator);
        const parent = tracer().startSpan('handle request');
        const task = context.with(trace.setSpan(context.active(), parent), () =>
          submit(fixture('echo.mjs'), 1),
        );
        expect(await task.done).toMatchObject({ state: 'FINISHED', result: { input: 1 } });
        parent.end();
        const agentSpan = await eventually(() => taskSpans(task.executionId).agent);
        expect(agentSpan.parentSpanContext).toBeUndefined();
      }
      expect(offers.length).toBeGreaterThanOrEqual(2);
      for (const offer of offers) expect(Object.hasOwn(offer, 'trace')).toBe(false);
      const warnings = captured.lines.filter((line) =>
        String(line.msg).includes('trace context of a task cannot be sent'),
      );
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.msg).toContain('is a number');
    } finally {
      await tearDown(agent, watcher);
    }
  });

  it('garbage in the trace field of an offer is logged and ignored by the agent; good entries are kept; every task runs', async () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const agentLog = captureLogger('warn');
    const { name, agent, watcher } = await setUp('otel-4', agentLog.logger);
    try {
      // A real coordinator holds its lease; a stranger sends offers in its name, with hostile fields.
      const { executor } = cluster.coordinator({ cluster: name, agentExecutor: 'worker' });
      await executor.connect();
      const names = new ClusterNames(name);
      const leases = await new Kvm(jetstream(watcher)).open(names.leasesBucket);
      const lease = await leases.get(coordinatorLeaseKey(executor.id));
      const coordinatorEpoch = (lease?.json() as { epoch: string } | undefined)?.epoch as string;
      let counter = 0;
      const send = async (tasks: number, trace: unknown): Promise<string[]> => {
        const ids = Array.from({ length: tasks }, () => `hostile-${counter++}`);
        // The `trace` field as a stranger may send it: anything structured clone carries.
        const offer: Omit<OfferMessage, 'trace'> & { trace: unknown } = {
          t: 'offer',
          coordinator: executor.id,
          coordinatorEpoch,
          agentEpoch: agent.stats.epoch,
          tasks: ids.map(
            (id): OfferedTaskWire => [
              id,
              1,
              'worker',
              fixture('echo.mjs'),
              undefined,
              'hostile',
              'job',
              'slot',
              1,
              encodeValue(id),
              300,
              600,
              10_000,
              'info',
            ],
          ),
          trace,
        };
        const reply = decode((await watcher.request(names.agentOffer(agent.name), encode(offer))).data);
        expect(reply).toMatchObject({ t: 'offer-reply', accepted: ids, declined: [] });
        return ids;
      };
      const good = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const ids = [
        ...(await send(1, 'not an array')),
        ...(await send(2, [{ traceparent: good }])), // one entry for two tasks
        ...(await send(1, { 0: { traceparent: good } })),
      ];
      const mixed = await send(12, [
        { traceparent: good },
        { traceparent: 42 },
        { traceparent: 'x'.repeat(200_000) },
        Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, 'v'])),
        new Map([['traceparent', good]]),
        [['traceparent', good]],
        { traceparent: { nested: good } },
        JSON.parse(`{"__proto__": {"traceparent": "${good}"}}`),
        { 'bad name': good },
        { traceparent: `${good}\r\nx-injected: 1` },
        null,
        new Date(0),
      ]);
      ids.push(...mixed);

      const ended = await eventually(() => {
        const found = ids.map((id) => taskSpans(id).agent);
        return found.every((span) => span !== undefined) ? (found as ReadableSpan[]) : undefined;
      });
      for (const span of ended) expect(span.attributes['taskwarden.outcome']).toBe('finished');
      // The one good entry: a child of the context it named; everything else: a root.
      const parents = ended.map((span) => span.parentSpanContext as SpanContext | undefined);
      const withParent = ended.filter((_span, i) => parents[i] !== undefined);
      expect(withParent.map((span) => span.attributes['taskwarden.execution_id'])).toEqual([mixed[0]]);
      expect(withParent[0]?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(withParent[0]?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');

      const logged = agentLog.lines
        .map((line) => String(line.msg))
        .filter((msg) => msg.startsWith('ignored a malformed message'));
      expect(logged).toEqual([
        expect.stringContaining('trace: not an array'),
        expect.stringContaining('trace: 1 entries for 2 tasks'),
        expect.stringContaining('trace: not an array'),
        expect.stringContaining(
          `the trace context of task ${mixed[1]}: entry "traceparent" is a number (and 10 more)`,
        ),
      ]);
    } finally {
      await tearDown(agent, watcher);
    }
  });
});
