/**
 * Metrics and traces of a runtime, through the OpenTelemetry API only (a no-op until the host
 * registers an OpenTelemetry SDK). Meter and tracer name: `@taskwarden/sdk`; durations in seconds.
 *
 * | instrument | kind | attributes |
 * | --- | --- | --- |
 * | `taskwarden.task.duration` | histogram, s: submit → done | `executor`, `state` |
 * | `taskwarden.task.cancel.duration` | histogram, s: cancel requested → work stopped | `executor`, `stage` |
 * | `taskwarden.tasks.ended` | counter | `executor`, `state`, `abandoned` |
 * | `taskwarden.fatal_errors` | counter | `error.type` |
 * | `taskwarden.tasks.stuck` | counter (one per interrupter warning) | `executor` |
 * | `taskwarden.slots` | observable gauge | `state` |
 *
 * One span per task (`taskwarden.task <name>`), from submit to `done`, child of the context active at
 * `submit`, with an event per transition and per ladder stage.
 *
 * Cost when no SDK is registered: nothing per task but one check. Metrics are on only when a meter
 * provider was registered before the runtime was created (the API has no proxy for metrics); traces
 * follow the global tracer provider at every submit (the API's proxy), so an SDK registered later is
 * picked up by tasks submitted after it.
 * @internal
 * @module
 */
import type {
  Attributes,
  Context,
  Counter,
  Histogram,
  ObservableGauge,
  ObservableResult,
  Span,
  Tracer,
  TracerProvider,
} from '@opentelemetry/api';
import {
  context,
  createNoopMeter,
  metrics,
  ProxyTracerProvider,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { describe } from '../errors.js';
import type { TerminalState } from '../execution-state.js';
import type { CancellationStage } from '../interfaces/cancellation-strategy.js';
import type { SlotState, TaskSlotTable } from '../interfaces/task-slot-table.js';

/** The instrumentation scope of the SDK's meter and tracer. */
export const TELEMETRY_SCOPE = '@taskwarden/sdk';

const NOOP_TRACER_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();
const NOOP_HISTOGRAM = createNoopMeter().createHistogram('taskwarden.noop');
const SLOT_STATES: readonly SlotState[] = ['FREE', 'ALLOCATED', 'ACTIVE', 'RELEASING'];

/** What a task keeps for its telemetry while it lives (only when telemetry was on at its submit). */
export interface TaskTelemetry {
  /** The task's span, when traces are recorded. */
  span: Span | undefined;
  /** `performance.now()` at submit (metrics only). */
  readonly submittedAt: number;
  /** `performance.now()` when cancellation (or `fail()`) was requested, if it was. */
  cancelRequestedAt: number | undefined;
  /** The last stage that could have stopped the work: `signal`, `hard_stop` or `watchdog`. */
  stoppingStage: 'signal' | 'hard_stop' | 'watchdog' | undefined;
}

/** The telemetry of one runtime. @internal */
export class RuntimeTelemetry {
  readonly #tracerProvider: TracerProvider;
  /** The API's proxy provider (whose delegate an SDK sets), or undefined when something else is global. */
  readonly #proxy: ProxyTracerProvider | undefined;
  #tracer: Tracer | undefined;
  readonly #metrics: boolean;
  readonly #duration: Histogram | undefined;
  readonly #cancelDuration: Histogram | undefined;
  readonly #ended: Counter | undefined;
  readonly #fatal: Counter | undefined;
  readonly #stuck: Counter | undefined;
  readonly #slots: ObservableGauge | undefined;
  readonly #observeSlots: ((result: ObservableResult) => void) | undefined;
  /** Attribute objects, made once per combination (no allocation per task). */
  readonly #attributes = new Map<string, Attributes>();

  constructor(slotTable: TaskSlotTable) {
    this.#tracerProvider = trace.getTracerProvider();
    this.#proxy = this.#tracerProvider instanceof ProxyTracerProvider ? this.#tracerProvider : undefined;
    const meter = metrics.getMeterProvider().getMeter(TELEMETRY_SCOPE);
    const duration = meter.createHistogram('taskwarden.task.duration', {
      unit: 's',
      description: 'Time from submit until the task is done (terminal and its work stopped)',
    });
    this.#metrics = duration !== NOOP_HISTOGRAM;
    if (!this.#metrics) return;
    this.#duration = duration;
    this.#cancelDuration = meter.createHistogram('taskwarden.task.cancel.duration', {
      unit: 's',
      description: 'Time from the cancel (or fail) request until the work stopped',
    });
    this.#ended = meter.createCounter('taskwarden.tasks.ended', { description: 'Tasks that ended' });
    this.#fatal = meter.createCounter('taskwarden.fatal_errors', {
      description: 'Calls of the fatal error handler (work that could not be stopped)',
    });
    this.#stuck = meter.createCounter('taskwarden.tasks.stuck', {
      description: 'Interrupter warnings: work that did not react to its cancel',
    });
    this.#slots = meter.createObservableGauge('taskwarden.slots', { description: 'Slots by state' });
    this.#observeSlots = (result) => {
      const counts: Record<SlotState, number> = { FREE: 0, ALLOCATED: 0, ACTIVE: 0, RELEASING: 0 };
      for (const slot of slotTable.getSlotReport()) counts[slot.state]++;
      for (const state of SLOT_STATES) result.observe(counts[state], this.#attrs('state', state));
    };
    this.#slots.addCallback(this.#observeSlots);
  }

  /** Whether a task submitted now records anything (one check per submit). */
  get active(): boolean {
    return this.#metrics || this.#tracing();
  }

  #tracing(): boolean {
    const proxy = this.#proxy;
    return proxy === undefined || proxy.getDelegate() !== NOOP_TRACER_PROVIDER;
  }

  /** Starts a task's telemetry at submit: its span (child of the active context) and its clock. */
  taskSubmitted(
    name: string,
    attributes: { executionId: string; jobId: string; executor: string },
  ): TaskTelemetry {
    let span: Span | undefined;
    if (this.#tracing()) {
      this.#tracer ??= this.#tracerProvider.getTracer(TELEMETRY_SCOPE);
      span = this.#tracer.startSpan(
        `taskwarden.task ${name}`,
        {
          kind: SpanKind.INTERNAL,
          attributes: {
            'taskwarden.execution_id': attributes.executionId,
            'taskwarden.job_id': attributes.jobId,
            'taskwarden.executor': attributes.executor,
            'taskwarden.task': name,
          },
        },
        context.active(),
      );
    }
    return { span, submittedAt: performance.now(), cancelRequestedAt: undefined, stoppingStage: undefined };
  }

  /** The context a task's work is launched in: its span's, so an executor can propagate it. */
  launchContext(telemetry: TaskTelemetry): Context | undefined {
    return telemetry.span ? trace.setSpan(context.active(), telemetry.span) : undefined;
  }

  /** A transition: an event on the span. */
  transition(telemetry: TaskTelemetry, to: string): void {
    telemetry.span?.addEvent(`state ${to}`);
  }

  /** A ladder stage: an event on the span; the clock of the cancel duration starts with `signal`. */
  stage(telemetry: TaskTelemetry, stage: CancellationStage): void {
    telemetry.span?.addEvent(`cancellation ${stage}`);
    if (stage === 'signal') telemetry.cancelRequestedAt ??= performance.now();
    if (stage !== 'interrupt') telemetry.stoppingStage = stage;
  }

  /** An interrupter warning. */
  stuck(executor: string): void {
    this.#stuck?.add(1, this.#attrs('executor', executor));
  }

  /** A fatal error (once per call of the fatal handler). */
  fatal(error: Error): void {
    this.#fatal?.add(1, this.#attrs('error.type', errorType(error)));
  }

  /** The task is done: durations, the ended counter, and the span's end with the final state. */
  taskDone(
    telemetry: TaskTelemetry,
    executor: string,
    state: TerminalState,
    abandoned: boolean,
    error: Error | undefined,
  ): void {
    const span = telemetry.span;
    if (span) {
      span.setAttribute('taskwarden.state', state);
      if (abandoned) span.setAttribute('taskwarden.abandoned', true);
      if (state === 'FAILED')
        span.setStatus({ code: SpanStatusCode.ERROR, message: error ? describe(error) : state });
      span.end();
      telemetry.span = undefined;
    }
    if (!this.#metrics) return;
    const now = performance.now();
    this.#duration?.record(
      (now - telemetry.submittedAt) / 1_000,
      this.#attrs2('executor', executor, 'state', state),
    );
    this.#ended?.add(1, this.#attrs3(executor, state, abandoned));
    if (telemetry.cancelRequestedAt !== undefined) {
      const stage = abandoned ? 'watchdog' : (telemetry.stoppingStage ?? 'signal');
      this.#cancelDuration?.record(
        (now - telemetry.cancelRequestedAt) / 1_000,
        this.#attrs2('executor', executor, 'stage', stage),
      );
    }
  }

  /** Stops observing the slot table (the runtime is closed). */
  close(): void {
    if (this.#slots && this.#observeSlots) this.#slots.removeCallback(this.#observeSlots);
  }

  #attrs(key: string, value: string): Attributes {
    const id = `${key}\u0000${value}`;
    let attributes = this.#attributes.get(id);
    if (!attributes) {
      attributes = Object.freeze({ [key]: value });
      this.#attributes.set(id, attributes);
    }
    return attributes;
  }

  #attrs2(k1: string, v1: string, k2: string, v2: string): Attributes {
    const id = `${k1}\u0000${v1}\u0000${k2}\u0000${v2}`;
    let attributes = this.#attributes.get(id);
    if (!attributes) {
      attributes = Object.freeze({ [k1]: v1, [k2]: v2 });
      this.#attributes.set(id, attributes);
    }
    return attributes;
  }

  #attrs3(executor: string, state: string, abandoned: boolean): Attributes {
    const id = `ended\u0000${executor}\u0000${state}\u0000${abandoned}`;
    let attributes = this.#attributes.get(id);
    if (!attributes) {
      attributes = Object.freeze({ executor, state, abandoned });
      this.#attributes.set(id, attributes);
    }
    return attributes;
  }
}

function errorType(error: Error): string {
  try {
    const name = error.name;
    return typeof name === 'string' ? name : 'Error';
  } catch {
    return 'Error';
  }
}
