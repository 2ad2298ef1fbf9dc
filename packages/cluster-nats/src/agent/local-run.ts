/**
 * One offered task running on one of the agent's own executors. The agent drives the executor's
 * public SPI itself (`launch` with a launch spec of its own) rather than through a local runtime: it
 * owns its capacity, and the cancellation ladder that times cancel, interrupt and kill is the
 * coordinator's; a local runtime would add a second ladder, a second watchdog and slots of its own.
 * The agent adds its own timing only when the coordinator is gone (promise 3).
 *
 * What the work does is reported through {@link RunSink}, once each and in order: `started`,
 * `running`, then one outcome, only when the work has stopped.
 *
 * With an OpenTelemetry tracer provider registered, the run has a span of its own,
 * `taskwarden.task <name>`, from the launch until the work stopped, child of the trace context the
 * coordinator sent (its span of the task); the work is launched in that span's context.
 * @internal
 * @module
 */
import type { Span } from '@opentelemetry/api';
import { context } from '@opentelemetry/api';
import type { Execution, ExecutionReporter, Executor, LaunchSpec, Logger } from '@taskwarden/sdk';
import { SerializationError, toError } from '@taskwarden/sdk';
import { decodeValue, encodeValue, GARBAGE } from '../protocol/codec.js';
import type { OfferedTask } from '../protocol/messages.js';
import type { RunOutcome } from '../telemetry/trace-context.js';
import { endRunSpan, startRunTelemetry } from '../telemetry/trace-context.js';

/** Where a run reports. @internal */
export interface RunSink {
  started(run: LocalRun): void;
  running(run: LocalRun): void;
  progress(run: LocalRun, value: Uint8Array): void;
  finished(run: LocalRun, value: Uint8Array): void;
  failed(run: LocalRun, error: unknown): void;
}

/** A task on this agent. @internal */
export class LocalRun {
  readonly task: OfferedTask;
  /** The coordinator that offered it, in that lease epoch. */
  readonly coordinator: { readonly id: string; readonly epoch: string };
  /** Resolves once the work has stopped. */
  readonly stopped: Promise<void>;
  /** The agent stopped it because it could not renew its lease. */
  fenced = false;
  /** Its final report reached the coordinator (or was given up). */
  settled = false;

  readonly #executor: Executor;
  readonly #agent: string;
  /** The agent's span of the task, while its work runs (when a tracer provider is registered). */
  #span: Span | undefined;
  readonly #makeLogger: () => Logger;
  #logger: Logger | undefined;
  readonly #sink: RunSink;
  readonly #maxValueBytes: number;
  #execution: Execution | undefined;
  #workStopped = false;
  #startedSent = false;
  #runningSent = false;
  #cancelled = false;
  /** Set when the agent itself cancelled the work (it drains, or the coordinator is gone). */
  #ownCancel: Error | undefined;
  #killed = false;
  #resolveStopped!: () => void;

  constructor(ctx: {
    task: OfferedTask;
    coordinator: { id: string; epoch: string };
    /** The agent's name, for its span of the task. */
    agent: string;
    executor: Executor;
    /** Builds the task's logger, on first use. */
    logger: () => Logger;
    sink: RunSink;
    /** The largest encoded result or progress value that can be reported. */
    maxValueBytes: number;
  }) {
    this.task = ctx.task;
    this.coordinator = ctx.coordinator;
    this.#executor = ctx.executor;
    this.#agent = ctx.agent;
    this.#makeLogger = ctx.logger;
    this.#sink = ctx.sink;
    this.#maxValueBytes = ctx.maxValueBytes;
    this.stopped = new Promise((resolve) => {
      this.#resolveStopped = resolve;
    });
  }

  /** The task's logger on this agent. */
  get logger(): Logger {
    this.#logger ??= this.#makeLogger();
    return this.#logger;
  }

  get id(): string {
    return this.task.id;
  }

  get token(): number {
    return this.task.token;
  }

  /** Whether the work has stopped (it no longer counts against capacity). */
  get workStopped(): boolean {
    return this.#workStopped;
  }

  /**
   * Launches the work on the executor, in the context of the run's span; a launch that throws fails
   * the task at once.
   */
  start(): void {
    const { task } = this;
    const telemetry = startRunTelemetry(
      {
        id: task.id,
        name: task.name,
        jobId: task.jobId,
        executor: task.executor,
        attempt: task.attempt,
        token: task.token,
        agent: this.#agent,
      },
      task.traceContext,
    );
    this.#span = telemetry.span;
    const input = decodeValue(task.input);
    if (input === GARBAGE) {
      this.#failed(new SerializationError('input', { cause: new Error('the input arrived unreadable') }));
      return;
    }
    const run = this;
    const report: ExecutionReporter = {
      attach: (execution: Execution) => {
        this.#execution = execution;
      },
      started: () => this.#started(),
      running: () => this.#running(),
      progress: (value: unknown) => this.#progress(value),
      finished: (value: unknown) => this.#finished(value),
      failed: (error: unknown) => this.#failed(error),
    };
    const spec: LaunchSpec = {
      task: {
        executionId: task.id,
        jobId: task.jobId,
        allocationId: task.allocationId,
        name: task.name,
        attempt: task.attempt,
        fencingToken: task.token,
      },
      invokable:
        task.export === undefined ? { module: task.module } : { module: task.module, export: task.export },
      input,
      // An accessor, as the runtime's own launch specs: the child logger is built if it is used.
      get logger(): Logger {
        return run.logger;
      },
      cancellation: task.timings,
      report,
    };
    let execution: Execution;
    try {
      const launchContext = telemetry.launchContext;
      execution = launchContext
        ? context.with(launchContext, () => this.#executor.launch(spec))
        : this.#executor.launch(spec);
    } catch (error) {
      this.#failed(error);
      return;
    }
    this.#execution = execution;
  }

  /**
   * Graceful: the task's signal and its `cancel()` hook. Idempotent. `ownSide`: the agent cancels on
   * its own (not at its coordinator's request); however the work then ends, short of a result, it
   * is reported as stopped by this cancellation, so the coordinator's task ends CANCELED.
   */
  cancel(reason: Error, ownSide = false): void {
    if (this.#workStopped) return;
    if (ownSide) this.#ownCancel ??= reason;
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#span?.addEvent('cancel');
    this.#cancelNow(reason);
  }

  interrupt(): void {
    if (this.#workStopped) return;
    this.#span?.addEvent('interrupt');
    try {
      this.#execution?.interrupt?.();
    } catch (error) {
      this.logger.warn({ err: toError(error) }, 'interrupting the task failed');
    }
  }

  /** Hard stop. Idempotent. */
  kill(): void {
    if (this.#killed || this.#workStopped) return;
    this.#killed = true;
    this.#span?.addEvent('kill');
    this.#killNow();
  }

  async diagnose(): Promise<string | undefined> {
    if (this.#workStopped) return undefined;
    return this.#execution?.diagnose?.();
  }

  #cancelNow(reason: Error): void {
    try {
      this.#execution?.cancel(reason);
    } catch (error) {
      this.logger.warn({ err: toError(error) }, 'cancelling the task failed');
    }
  }

  #killNow(): void {
    const execution = this.#execution;
    if (!execution) return;
    if (!execution.kill) {
      this.logger.error('the executor cannot stop this task hard');
      return;
    }
    try {
      execution
        .kill()
        .catch((error: unknown) => this.logger.error({ err: toError(error) }, 'hard stop failed'));
    } catch (error) {
      this.logger.error({ err: toError(error) }, 'hard stop could not start');
    }
  }

  #started(): void {
    if (this.#startedSent || this.#workStopped) return;
    this.#startedSent = true;
    this.#span?.addEvent('started');
    this.#sink.started(this);
  }

  #running(): void {
    if (this.#runningSent || this.#workStopped) return;
    this.#started();
    this.#runningSent = true;
    this.#span?.addEvent('running');
    this.#sink.running(this);
  }

  #progress(value: unknown): void {
    if (this.#workStopped) return;
    try {
      const bytes = encodeValue(value);
      if (bytes.byteLength <= this.#maxValueBytes) this.#sink.progress(this, bytes);
      else this.logger.warn({ bytes: bytes.byteLength }, 'a progress value too large to report was dropped');
    } catch (error) {
      this.logger.warn({ err: toError(error) }, 'a progress value that cannot be copied was dropped');
    }
  }

  #finished(value: unknown): void {
    if (this.#workStopped) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeValue(value);
    } catch (error) {
      this.#failed(new SerializationError('result', { cause: error }));
      return;
    }
    if (bytes.byteLength > this.#maxValueBytes) {
      this.#failed(
        new SerializationError('result', {
          cause: new RangeError(
            `the result is ${bytes.byteLength} bytes encoded; the NATS server accepts messages of at most ${this.#maxValueBytes} bytes for it`,
          ),
        }),
      );
      return;
    }
    this.#stop('finished', undefined);
    this.#sink.finished(this, bytes);
  }

  #failed(error: unknown): void {
    if (this.#workStopped) return;
    this.#stop('failed', error);
    if (this.#ownCancel && !this.fenced) {
      this.logger.info({ err: toError(error) }, 'the task stopped after the agent cancelled it');
      this.#sink.failed(this, this.#ownCancel);
      return;
    }
    this.#sink.failed(this, error);
  }

  #stop(outcome: RunOutcome, error: unknown): void {
    this.#workStopped = true;
    const span = this.#span;
    if (span) {
      this.#span = undefined;
      endRunSpan(span, outcome, error, {
        stopRequested: this.#cancelled || this.#killed,
        fenced: this.fenced,
      });
    }
    this.#resolveStopped();
  }
}
