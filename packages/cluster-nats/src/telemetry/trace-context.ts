/**
 * The OpenTelemetry trace context of a task, carried from the coordinator to the agent. Through
 * `@opentelemetry/api` only, with the globally registered propagator and tracer provider (no-ops
 * until the host registers an OpenTelemetry SDK, the convention for libraries).
 *
 * - The coordinator's `launch()` runs in the context of the runtime's task span; the propagator
 *   writes that context into a carrier ({@link captureTraceContext}), which travels with the offer.
 *   With no propagator registered it writes nothing, and nothing is sent.
 * - The agent checks the carrier ({@link checkTraceCarrier}: a flat map of header-like names to
 *   printable ASCII strings, bounded in keys and characters), extracts it onto `ROOT_CONTEXT` and
 *   starts its own `taskwarden.task <name>` span for the task as a child of it
 *   ({@link startRunTelemetry}); the task is launched on the agent's executor in that span's context.
 * @internal
 * @module
 */
import { types } from 'node:util';
import type { Context, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import {
  context,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { describe } from '@taskwarden/sdk/internal';

/** The instrumentation scope of the agent's tracer. @internal */
export const TELEMETRY_SCOPE = '@taskwarden/cluster-nats';

/**
 * A propagator's carrier as it travels: entry names (`traceparent`, `tracestate`, `baggage`, ...) to
 * their values. Checked copies have no prototype and are frozen. @internal
 */
export type TraceCarrier = Readonly<Record<string, string>>;

/** The most entries a carrier may have (W3C trace context and baggage write three). @internal */
export const MAX_TRACE_ENTRIES = 32;
/** The longest entry name. @internal */
export const MAX_TRACE_NAME_CHARS = 256;
/**
 * The most characters of all names and values together: room for W3C `traceparent` (55),
 * `tracestate` (512) and a full `baggage` (8,192) with margin. @internal
 */
export const MAX_TRACE_CHARS = 16_384;
/** Bytes an entry costs in an encoded message beyond its characters (tags and lengths). */
const ENTRY_OVERHEAD_BYTES = 12;

/** An HTTP header name (RFC 9110 token): what propagators write for headers. */
const NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, space and tab: what a header value may hold without encoding. */
const VALUE = /^[\t\x20-\x7e]*$/;

/** A carrier that passed {@link checkTraceCarrier}, with what it costs in a message. @internal */
export interface CheckedTraceCarrier {
  readonly carrier: TraceCarrier;
  /** An upper bound of its encoded size. */
  readonly bytes: number;
}

/**
 * Checks a carrier that came from a propagator or from the network, without throwing: a plain
 * object (no Proxy, no class instance, no array) of at most {@link MAX_TRACE_ENTRIES} entries, each
 * name an HTTP token of at most {@link MAX_TRACE_NAME_CHARS} characters, each value a string of
 * visible ASCII, space or tab, at most {@link MAX_TRACE_CHARS} characters in all. Returns a frozen
 * copy without a prototype (a `__proto__` entry is an entry like any other), or why it is refused.
 * @internal
 */
export function checkTraceCarrier(value: unknown): CheckedTraceCarrier | string {
  try {
    if (typeof value !== 'object' || value === null) return `not an object (${typeof value})`;
    if (types.isProxy(value)) return 'a Proxy';
    if (Array.isArray(value)) return 'an array';
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return 'not a plain object';
    if (Object.getOwnPropertySymbols(value).length > 0) return 'symbol keys';
    const names = Object.getOwnPropertyNames(value);
    if (names.length > MAX_TRACE_ENTRIES) {
      return `${names.length} entries (at most ${MAX_TRACE_ENTRIES})`;
    }
    const copy: Record<string, string> = Object.create(null);
    let chars = 0;
    for (const name of names) {
      const descriptor = Object.getOwnPropertyDescriptor(value, name);
      if (!descriptor || !('value' in descriptor) || !descriptor.enumerable) {
        return `entry ${JSON.stringify(name.slice(0, 64))} is not a plain value`;
      }
      const entry: unknown = descriptor.value;
      if (typeof entry !== 'string') return `entry ${JSON.stringify(name.slice(0, 64))} is a ${typeof entry}`;
      if (name.length > MAX_TRACE_NAME_CHARS || !NAME.test(name)) {
        return `entry name ${JSON.stringify(name.slice(0, 64))} is not a header name of at most ${MAX_TRACE_NAME_CHARS} characters`;
      }
      chars += name.length + entry.length;
      if (chars > MAX_TRACE_CHARS) return `more than ${MAX_TRACE_CHARS} characters`;
      if (!VALUE.test(entry))
        return `entry ${JSON.stringify(name)} holds characters other than printable ASCII`;
      copy[name] = entry;
    }
    return { carrier: Object.freeze(copy), bytes: chars + names.length * ENTRY_OVERHEAD_BYTES };
  } catch (error) {
    return `unreadable (${describe(error)})`;
  }
}

/**
 * The trace context active now, written by the global propagator (`propagation.inject`) and
 * checked: `undefined` when the propagator writes nothing (none is registered, or no span is
 * active), or why what it wrote cannot be sent. Never throws. @internal
 */
export function captureTraceContext(): CheckedTraceCarrier | string | undefined {
  const carrier: Record<string, unknown> = Object.create(null);
  try {
    propagation.inject(context.active(), carrier);
  } catch (error) {
    return `the propagator threw: ${describe(error)}`;
  }
  for (const _ in carrier) return checkTraceCarrier(carrier);
  return undefined;
}

const NOOP_TRACER_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();
let tracer: { provider: TracerProvider; tracer: Tracer } | undefined;

/** The global tracer provider's tracer, or undefined while none is registered (one check). */
function activeTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_TRACER_PROVIDER) {
    return undefined;
  }
  if (tracer?.provider !== provider) tracer = { provider, tracer: provider.getTracer(TELEMETRY_SCOPE) };
  return tracer.tracer;
}

/** What an agent records of one task: its span, and the context its work is launched in. @internal */
export interface RunTelemetry {
  /** The agent's span of the task, when a tracer provider is registered. */
  readonly span: Span | undefined;
  /** The context to launch the work in (the span's, or the coordinator's without a tracer). */
  readonly launchContext: Context | undefined;
}

/** What the agent's span of a task is named and tagged with. @internal */
export interface RunDescription {
  readonly id: string;
  readonly name: string;
  readonly jobId: string;
  readonly executor: string;
  readonly attempt: number;
  readonly token: number;
  readonly agent: string;
}

/**
 * Starts the agent's span of a task, `taskwarden.task <name>` (kind CONSUMER), as a child of the
 * coordinator's context extracted from `carrier` by the global propagator, or as a root without
 * one (never the context that happens to be active on the agent). Nothing at all without a carrier
 * and a tracer provider. Never throws. @internal
 */
export function startRunTelemetry(run: RunDescription, carrier: TraceCarrier | undefined): RunTelemetry {
  try {
    const parent = carrier === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, carrier);
    const active = activeTracer();
    if (!active) return { span: undefined, launchContext: carrier === undefined ? undefined : parent };
    const span = active.startSpan(
      `taskwarden.task ${run.name}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'taskwarden.execution_id': run.id,
          'taskwarden.job_id': run.jobId,
          'taskwarden.executor': run.executor,
          'taskwarden.task': run.name,
          'taskwarden.attempt': run.attempt,
          'taskwarden.fencing_token': run.token,
          'taskwarden.agent': run.agent,
        },
      },
      parent,
    );
    return { span, launchContext: trace.setSpan(parent, span) };
  } catch {
    return { span: undefined, launchContext: undefined };
  }
}

/** How the work of a task ended on the agent. @internal */
export type RunOutcome = 'finished' | 'failed';

/**
 * Ends the agent's span of a task once its work stopped: `taskwarden.outcome`, and status ERROR
 * for a failure the coordinator did not ask for (not after a cancel, a kill or fencing). @internal
 */
export function endRunSpan(
  span: Span,
  outcome: RunOutcome,
  error: unknown,
  how: { readonly stopRequested: boolean; readonly fenced: boolean },
): void {
  try {
    span.setAttribute('taskwarden.outcome', outcome);
    if (how.stopRequested) span.setAttribute('taskwarden.stop_requested', true);
    if (how.fenced) span.setAttribute('taskwarden.fenced', true);
    if (outcome === 'failed' && !how.stopRequested && !how.fenced) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
    }
    span.end();
  } catch {
    /* telemetry never fails a task */
  }
}
