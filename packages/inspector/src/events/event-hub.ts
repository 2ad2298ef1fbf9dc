import type { ServerResponse } from 'node:http';
import { isTerminal, type RuntimeEvents, type TaskRuntime } from '@taskwarden/sdk';
import type { ResolvedInspectorOptions } from '../options/resolve-options.js';
import { TEXT_LIMITS } from '../serialize/limits.js';
import { errorSummary, type JsonValue, safeText, toJsonSafe } from '../serialize/safe-json.js';
import { type AgentsResult, endedTaskView, type SnapshotView } from '../serialize/views.js';
import { EventStream, sseMessage } from './event-stream.js';
import { RecentTasks } from './recent-tasks.js';

/** An event waiting for the next flush. Progress values are serialized at flush time (latest wins). */
interface PendingEvent {
  readonly event: string;
  data: Record<string, JsonValue> | (() => Record<string, JsonValue>);
}

type Listeners = { [K in keyof RuntimeEvents]: RuntimeEvents[K] };

const name = (value: unknown) => safeText(value, TEXT_LIMITS.name);

/**
 * Turns the runtime's events into server-sent events for every open stream. The runtime's listeners
 * only build a small object and queue it (they run inside transitions); a timer sends the queue every
 * `flushIntervalMs` as one chunk shared by all streams. Progress of one task within one interval is
 * coalesced to its last report; a queue longer than `maxBatchEvents` is replaced by a fresh snapshot,
 * so neither memory nor a flush grows with the event rate. @internal
 */
export class EventHub {
  readonly #runtime: TaskRuntime;
  readonly #options: ResolvedInspectorOptions;
  readonly #snapshot: () => SnapshotView;
  readonly #refreshAgents: () => Promise<AgentsResult> | undefined;
  readonly #agentsKnown: () => boolean;
  readonly #streams = new Set<EventStream>();
  readonly #listeners: Listeners;
  readonly recent: RecentTasks;

  #pending: PendingEvent[] = [];
  #pendingProgress = new Map<string, PendingEvent>();
  #resync = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #snapshotTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #rejected = 0;
  #dropped = 0;

  constructor(
    runtime: TaskRuntime,
    options: ResolvedInspectorOptions,
    snapshot: () => SnapshotView,
    refreshAgents: () => Promise<AgentsResult> | undefined,
    agentsKnown: () => boolean,
  ) {
    this.#runtime = runtime;
    this.#options = options;
    this.#snapshot = snapshot;
    this.#refreshAgents = refreshAgents;
    this.#agentsKnown = agentsKnown;
    this.recent = new RecentTasks(options.recentTasks);
    this.#listeners = this.#makeListeners();
    const events = runtime.events;
    for (const [event, listener] of Object.entries(this.#listeners)) {
      events.on(event as keyof RuntimeEvents, listener as never);
    }
  }

  /** Counters for `inspector.stats()`. */
  stats() {
    let queuedBytes = 0;
    for (const stream of this.#streams) queuedBytes += stream.queuedBytes;
    return {
      openStreams: this.#streams.size,
      rejectedStreams: this.#rejected,
      droppedStreams: this.#dropped,
      queuedBytes,
    };
  }

  /** Whether one more stream may open; counts the refusal when not. */
  admit(): boolean {
    if (this.#streams.size < this.#options.maxStreams) return true;
    this.#rejected += 1;
    return false;
  }

  /**
   * Starts a stream on `response` (headers already sent): first everything queued so far goes to the
   * streams that were already open, then the new one gets a snapshot, so every client starts from a
   * consistent state and sees each later event exactly once.
   */
  open(response: ServerResponse): void {
    this.#flush();
    const stream = new EventStream(response, this.#options.maxQueuedBytes, () => {
      this.#dropped += 1;
      this.#remove(stream);
    });
    this.#streams.add(stream);
    response.once('close', () => {
      stream.closed();
      this.#remove(stream);
    });
    stream.send(`retry: 2000\n\n${sseMessage('snapshot', this.#snapshot())}`);
    if (this.#streams.size === 1) this.#startTimers();
    // The snapshot holds the agents last read; only a first stream waits for a first read (a burst of
    // connections must not read the directory, and broadcast, once per connection).
    if (!this.#agentsKnown()) this.#sendAgents();
  }

  /** Removes the runtime's listeners, stops the timers and ends every stream. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const events = this.#runtime.events;
    for (const [event, listener] of Object.entries(this.#listeners)) {
      events.off(event as keyof RuntimeEvents, listener as never);
    }
    for (const stream of this.#streams) stream.close();
    this.#streams.clear();
    this.#stopTimers();
    this.#pending = [];
    this.#pendingProgress.clear();
  }

  #remove(stream: EventStream): void {
    if (!this.#streams.delete(stream)) return;
    if (this.#streams.size === 0) {
      this.#stopTimers();
      this.#pending = [];
      this.#pendingProgress.clear();
      this.#resync = false;
    }
  }

  #startTimers(): void {
    this.#heartbeatTimer = setInterval(() => this.#broadcast(': heartbeat\n\n'), this.#options.heartbeatMs);
    this.#snapshotTimer = setInterval(() => {
      this.#flush();
      this.#broadcast(sseMessage('snapshot', this.#snapshot()));
      this.#sendAgents();
    }, this.#options.snapshotIntervalMs);
  }

  #stopTimers(): void {
    clearInterval(this.#heartbeatTimer);
    clearInterval(this.#snapshotTimer);
    clearTimeout(this.#flushTimer);
    this.#heartbeatTimer = this.#snapshotTimer = this.#flushTimer = undefined;
  }

  #sendAgents(): void {
    const refresh = this.#refreshAgents();
    if (refresh === undefined) return;
    void refresh.then((agents) => {
      if (this.#streams.size === 0) return;
      this.#flush();
      this.#broadcast(sseMessage('agents', agents));
    });
  }

  #broadcast(chunk: string): void {
    for (const stream of this.#streams) stream.send(chunk);
  }

  /** Queues an event for the next flush (only while someone listens). */
  #queue(event: PendingEvent): void {
    if (this.#streams.size === 0 || this.#closed) return;
    if (this.#resync) return;
    if (this.#pending.length >= this.#options.maxBatchEvents) {
      // Too many to send one by one: a fresh snapshot says the same in bounded space.
      this.#pending = [];
      this.#pendingProgress.clear();
      this.#resync = true;
    } else {
      this.#pending.push(event);
    }
    if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        this.#flush();
      }, this.#options.flushIntervalMs);
    }
  }

  #flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#resync) {
      this.#resync = false;
      this.#broadcast(sseMessage('snapshot', this.#snapshot()));
      return;
    }
    if (this.#pending.length === 0) return;
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingProgress.clear();
    let chunk = '';
    for (const { event, data } of pending)
      chunk += sseMessage(event, typeof data === 'function' ? data() : data);
    this.#broadcast(chunk);
  }

  #makeListeners(): Listeners {
    // Each listener runs inside a runtime transition: it must be cheap and must never throw (a
    // throwing listener would skip the integrator's listeners after it).
    const guard =
      <TArgs extends unknown[]>(body: (...args: TArgs) => void) =>
      (...args: TArgs) => {
        try {
          body(...args);
        } catch {
          /* an event the inspector cannot read is not shown; the runtime goes on */
        }
      };
    return {
      taskStateChanged: guard(({ task, from, to, cause }) => {
        if (isTerminal(to)) this.recent.add(endedTaskView(task, to, to === 'FAILED' ? cause : undefined));
        if (this.#streams.size === 0) return;
        const data: Record<string, JsonValue> = {
          executionId: name(task.executionId),
          jobId: name(task.jobId),
          allocationId: name(task.allocationId),
          name: name(task.name),
          executor: name(task.executor),
          from,
          to,
          cancellationRequested: task.cancellationRequested === true,
          at: Date.now(),
        };
        if (cause !== undefined) data.cause = errorSummary(cause, TEXT_LIMITS.message);
        this.#queue({ event: 'taskStateChanged', data });
      }),
      taskProgress: guard(({ task, progress }) => {
        if (this.#streams.size === 0) return;
        const executionId = name(task.executionId);
        const at = Date.now();
        const data = () => ({ executionId, progress: toJsonSafe(progress), at });
        const queued = this.#pendingProgress.get(executionId);
        if (queued !== undefined) {
          queued.data = data;
          return;
        }
        const entry: PendingEvent = { event: 'taskProgress', data };
        this.#queue(entry);
        if (this.#pending.at(-1) === entry) this.#pendingProgress.set(executionId, entry);
      }),
      taskStuck: guard(({ task, elapsedMs, diagnostics }) => {
        if (this.#streams.size === 0) return;
        const data: Record<string, JsonValue> = {
          executionId: name(task.executionId),
          elapsedMs: Number(elapsedMs) || 0,
          at: Date.now(),
        };
        if (diagnostics !== undefined) data.diagnostics = safeText(diagnostics, TEXT_LIMITS.diagnostics);
        this.#queue({ event: 'taskStuck', data });
      }),
      taskCancellationStage: guard(({ task, stage, elapsedMs }) => {
        if (this.#streams.size === 0) return;
        this.#queue({
          event: 'taskCancellationStage',
          data: {
            executionId: name(task.executionId),
            stage: name(stage),
            elapsedMs: Number(elapsedMs) || 0,
            at: Date.now(),
          },
        });
      }),
      slotStateChanged: guard(({ index, allocationId, jobId, from, to }) => {
        if (this.#streams.size === 0) return;
        this.#queue({
          event: 'slotStateChanged',
          data: { index, allocationId: name(allocationId), jobId: name(jobId), from, to, at: Date.now() },
        });
      }),
      jobStateChanged: guard(({ jobId, from, to }) => {
        if (this.#streams.size === 0) return;
        this.#queue({ event: 'jobStateChanged', data: { jobId: name(jobId), from, to, at: Date.now() } });
      }),
      fatalError: guard(({ error, task }) => {
        if (this.#streams.size === 0) return;
        const data: Record<string, JsonValue> = {
          error: errorSummary(error, TEXT_LIMITS.message),
          at: Date.now(),
        };
        if (task !== undefined) data.executionId = name(task.executionId);
        this.#queue({ event: 'fatalError', data });
      }),
    };
  }
}
