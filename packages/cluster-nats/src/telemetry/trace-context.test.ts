// The trace context's checks on their own (the round trip through a real agent is in
// test/trace-context.test.ts): what a propagator writes is sent only when it is a small flat map of
// header names to ASCII strings, and what arrives is taken only then; anything else is refused with
// a reason, never thrown, and never reads through a Proxy.
import type { TextMapPropagator } from '@opentelemetry/api';
import { context, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { afterEach, describe, expect, it } from 'vitest';
import { decode, encode } from '../protocol/codec.js';
import type { OfferedTaskWire, OfferMessage } from '../protocol/messages.js';
import { isOfferMessage, offeredTask, offerTraceContexts } from '../protocol/validate.js';
import {
  captureTraceContext,
  checkTraceCarrier,
  MAX_TRACE_CHARS,
  MAX_TRACE_ENTRIES,
  startRunTelemetry,
} from './trace-context.js';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function task(id: string): OfferedTaskWire {
  return [id, 1, 'worker', '/m.mjs', undefined, 'n', 'j', 'a', 1, new Uint8Array([0, 1]), 1, 2, 3, 'info'];
}

function offer(tasks: number, trace?: unknown): OfferMessage {
  const message = {
    t: 'offer',
    coordinator: 'c',
    coordinatorEpoch: 'e',
    agentEpoch: 'a',
    tasks: Array.from({ length: tasks }, (_, i) => task(`t${i}`)),
    ...(trace === undefined ? {} : { trace }),
  };
  // Through the codec, as the agent receives it.
  const decoded = decode(encode(message));
  if (!isOfferMessage(decoded)) throw new Error('the test offer must be a valid offer');
  return decoded;
}

afterEach(() => {
  propagation.disable();
  context.disable();
});

describe('checkTraceCarrier', () => {
  it('takes a flat map of header names to ASCII strings: a frozen copy without a prototype', () => {
    const source = { traceparent: TRACEPARENT, tracestate: 'a=1,b=2', baggage: 'k=v%20w;p=1', empty: '' };
    const checked = checkTraceCarrier(source);
    if (typeof checked === 'string') throw new Error(checked);
    expect({ ...checked.carrier }).toEqual(source);
    expect(checked.carrier).not.toBe(source);
    expect(Object.isFrozen(checked.carrier)).toBe(true);
    expect(Object.getPrototypeOf(checked.carrier)).toBeNull();
    expect(checked.bytes).toBeGreaterThanOrEqual(JSON.stringify(source).length - 20);
    // A `__proto__` entry (own property, as JSON.parse and structured clone make it) is just an entry.
    const proto = checkTraceCarrier(JSON.parse('{"__proto__":"x","traceparent":"y"}'));
    if (typeof proto === 'string') throw new Error(proto);
    expect(Object.keys(proto.carrier)).toEqual(['__proto__', 'traceparent']);
    expect(Object.getPrototypeOf(proto.carrier)).toBeNull();
  });

  it('refuses everything else with a reason, without throwing', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_TRACE_ENTRIES + 1 }, (_, i) => [`k${i}`, 'v']));
    const withGetter = Object.defineProperty({}, 'traceparent', { get: () => TRACEPARENT, enumerable: true });
    const hidden = Object.defineProperty({}, 'traceparent', { value: TRACEPARENT, enumerable: false });
    const refused: Array<[unknown, RegExp]> = [
      [undefined, /not an object/],
      [null, /not an object/],
      ['traceparent', /not an object/],
      [[TRACEPARENT], /array/],
      [new Map([['traceparent', TRACEPARENT]]), /not a plain object/],
      [new Date(0), /not a plain object/],
      [new (class Carrier {})(), /not a plain object/],
      [{ traceparent: 42 }, /is a number/],
      [{ traceparent: { nested: 'x' } }, /is a object/],
      [{ traceparent: 10n }, /is a bigint/],
      [{ traceparent: 'x'.repeat(MAX_TRACE_CHARS + 1) }, /more than 16384 characters/],
      [{ a: 'x'.repeat(MAX_TRACE_CHARS / 2), b: 'x'.repeat(MAX_TRACE_CHARS / 2) }, /more than/],
      [many, /33 entries/],
      [{ 'trace parent': 'x' }, /not a header name/],
      [{ '': 'x' }, /not a header name/],
      [{ ['k'.repeat(257)]: 'x' }, /not a header name/],
      [{ traceparent: 'caf\u00e9' }, /printable ASCII/],
      [{ traceparent: 'a\r\nX-Injected: 1' }, /printable ASCII/],
      [{ traceparent: 'a\u0000' }, /printable ASCII/],
      [{ [Symbol('s')]: 'x' }, /symbol keys/],
      [withGetter, /not a plain value/],
      [hidden, /not a plain value/],
    ];
    for (const [value, reason] of refused) {
      const checked = checkTraceCarrier(value);
      expect(typeof checked, String(reason)).toBe('string');
      expect(checked).toMatch(reason);
    }
  });

  it('refuses a Proxy without calling any of its traps', () => {
    const calls: string[] = [];
    const traps = new Proxy(
      {},
      {
        get: (_target, trap) => {
          calls.push(String(trap));
          return () => {
            throw new Error(`trap ${String(trap)} called`);
          };
        },
      },
    );
    expect(checkTraceCarrier(new Proxy({ traceparent: TRACEPARENT }, traps))).toBe('a Proxy');
    expect(calls).toEqual([]);
    // Nor can one travel: structured clone refuses it at the sender.
    expect(() => encode({ trace: [new Proxy({}, {})] })).toThrow();
  });
});

describe('offerTraceContexts (on receipt)', () => {
  it('absent: no carriers and nothing to report (what every offer without a propagator is)', () => {
    expect(offerTraceContexts(offer(2))).toEqual({ carriers: undefined, problem: undefined });
  });

  it('takes good entries and drops bad ones alone, reporting the first and the count', () => {
    const result = offerTraceContexts(
      offer(4, [{ traceparent: TRACEPARENT }, undefined, { traceparent: 1 }, new Map()]),
    );
    expect(result.carriers?.map((carrier) => carrier && { ...carrier })).toEqual([
      { traceparent: TRACEPARENT },
      undefined,
      undefined,
      undefined,
    ]);
    expect(result.problem).toBe('the trace context of task t2: entry "traceparent" is a number (and 1 more)');
    const wire = offer(1).tasks[0] as OfferedTaskWire;
    expect(offeredTask(wire, result.carriers?.[0]).traceContext).toEqual(result.carriers?.[0]);
    expect(offeredTask(wire).traceContext).toBeUndefined();
  });

  it('a field that is not one entry per task is ignored as a whole; the offer itself stays valid', () => {
    for (const [field, reason] of [
      ['nope', /not an array/],
      [{ 0: { traceparent: TRACEPARENT } }, /not an array/],
      [[], /0 entries for 2 tasks/],
      [[undefined, undefined, undefined], /3 entries for 2 tasks/],
      [null, /not an array/],
    ] as const) {
      const message = offer(2, field);
      expect(isOfferMessage(message)).toBe(true);
      const result = offerTraceContexts(message);
      expect(result.carriers).toBeUndefined();
      expect(result.problem).toMatch(reason);
    }
  });
});

describe('captureTraceContext (at launch)', () => {
  it('without a propagator: nothing, even under an active span', () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const span = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    });
    expect(context.with(trace.setSpan(ROOT_CONTEXT, span), () => captureTraceContext())).toBeUndefined();
  });

  it('with the W3C propagator: the active span as traceparent; no active span: nothing', () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const span = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    });
    const captured = context.with(trace.setSpan(ROOT_CONTEXT, span), () => captureTraceContext());
    expect(typeof captured === 'object' && { ...captured.carrier }).toEqual({ traceparent: TRACEPARENT });
    expect(captureTraceContext()).toBeUndefined();
  });

  it('a propagator that writes garbage or throws: a reason, never an exception', () => {
    const writing = (write: (carrier: Record<string, unknown>) => void): TextMapPropagator => ({
      inject: (_context, carrier) => write(carrier as Record<string, unknown>),
      extract: (ctx) => ctx,
      fields: () => [],
    });
    const cases: Array<[TextMapPropagator, RegExp]> = [
      [writing((c) => Object.assign(c, { traceparent: 7 })), /is a number/],
      [writing((c) => Object.assign(c, { baggage: 'b'.repeat(100_000) })), /more than/],
      [
        writing((c) => {
          for (let i = 0; i < 1_000; i++) c[`k${i}`] = 'v';
        }),
        /1000 entries/,
      ],
      [
        writing(() => {
          throw new Error('propagator broke');
        }),
        /the propagator threw: propagator broke/,
      ],
    ];
    for (const [propagator, reason] of cases) {
      propagation.disable();
      propagation.setGlobalPropagator(propagator);
      expect(captureTraceContext()).toMatch(reason);
    }
  });
});

describe('startRunTelemetry (on the agent)', () => {
  const run = { id: 'x', name: 'n', jobId: 'j', executor: 'worker', attempt: 1, token: 3, agent: 'a1' };

  it('without a tracer provider nor a carrier: nothing at all (the cheap path)', () => {
    expect(startRunTelemetry(run, undefined)).toEqual({ span: undefined, launchContext: undefined });
  });

  it('without a tracer provider but with a carrier: the work is launched in the remote context', () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const { span, launchContext } = startRunTelemetry(run, { traceparent: TRACEPARENT });
    expect(span).toBeUndefined();
    expect(launchContext && trace.getSpanContext(launchContext)).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      isRemote: true,
    });
  });
});
