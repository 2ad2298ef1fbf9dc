/**
 * An agent: takes tasks offered by coordinators of its queue, up to its capacity, runs them on its
 * own executors, reports what they do, and acts on cancel, interrupt, kill and diagnose requests.
 * It holds a lease and fences itself (stops every task hard) before the lease can be taken over; it
 * watches the coordinators' leases and stops the tasks of one that is gone.
 * @module
 */
import { hostname } from 'node:os';
import type { Subscription } from '@nats-io/transport-node';
import type { Executor, Logger } from '@taskwarden/sdk';
import { TaskCancelledError, toError } from '@taskwarden/sdk';
import type { SerializedError } from '@taskwarden/sdk/internal';
import { deserializeError, serializeError } from '@taskwarden/sdk/internal';
import { now } from '../clock.js';
import { parseTaskRecord } from '../coordinator/task-record.js';
import { LeaseHolder } from '../lease/lease-holder.js';
import type { ObservedLease, ObservedLoss } from '../lease/lease-observer.js';
import { LeaseObserver } from '../lease/lease-observer.js';
import type { LeaseTiming } from '../lease/lease-timing.js';
import { FENCE_SLACK_MS } from '../lease/lease-timing.js';
import type { ClusterConnection } from '../nats/cluster-connection.js';
import { MAX_TIMER_MS } from '../option-checks.js';
import { decode, encode } from '../protocol/codec.js';
import type { GarbageLog } from '../protocol/garbage-log.js';
import type {
  ControlMessage,
  ControlReply,
  DeclineReason,
  FreeMessage,
  OfferMessage,
  OfferReply,
  StatsReply,
} from '../protocol/messages.js';
import { EventBit } from '../protocol/messages.js';
import type { ClusterNames } from '../protocol/subjects.js';
import { agentLeaseKey, coordinatorLeaseKey, taskKey } from '../protocol/subjects.js';
import {
  isControlMessage,
  isOfferMessage,
  isStatsMessage,
  offeredTask,
  offerTraceContexts,
} from '../protocol/validate.js';
import type { AgentCloseOptions } from './agent-options.js';
import type { RunSink } from './local-run.js';
import { LocalRun } from './local-run.js';
import { ReportOutbox } from './report-outbox.js';

/** A snapshot of an agent. */
export interface AgentStats {
  readonly name: string;
  readonly queue: string;
  readonly capacity: number;
  /** Tasks whose work has not stopped. */
  readonly running: number;
  /** `capacity - running`, 0 while draining or fenced. */
  readonly free: number;
  /** `close()` was called. */
  readonly draining: boolean;
  /** Whether the agent holds its lease right now (false while fenced). */
  readonly leaseValid: boolean;
  /** The current lease epoch. */
  readonly epoch: string;
  /** Child processes of its executors that exist now (from executors that list them). */
  readonly pids: readonly number[];
}

/** Everything an agent is started with (validated by `startAgent`). @internal */
export interface AgentSettings {
  readonly name: string;
  readonly queue: string;
  readonly capacity: number;
  readonly executors: Readonly<Record<string, Executor>>;
  readonly timing: LeaseTiming;
  readonly conn: ClusterConnection;
  readonly names: ClusterNames;
  readonly logger: Logger;
  readonly garbage: GarbageLog;
}

const LOG_LEVELS: ReadonlySet<string> = new Set([
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
]);
/** Things remembered about tasks that are not running here, for this long. */
const MEMORY_MS = 300_000;
const MEMORY_MAX = 100_000;
/** Errors larger than this (encoded) are reported without their extra fields, their stack clipped. */
const MAX_ERROR_BYTES = 64 * 1024;

interface HostLeased {
  renewHostLease(validForMs: number): void;
}

/** A running agent; see `startAgent`. */
export class Agent {
  /** Its name in the cluster. */
  readonly name: string;
  /** The queue it serves. */
  readonly queue: string;
  /** Tasks at once. */
  readonly capacity: number;
  /** Resolves once the agent has closed. */
  readonly closed: Promise<void>;

  readonly #settings: AgentSettings;
  readonly #logger: Logger;
  readonly #lease: LeaseHolder;
  readonly #coordinators: LeaseObserver;
  /** Runs by `id \0 token`, until their outcome reached the coordinator. */
  readonly #runs = new Map<string, LocalRun>();
  #running = 0;
  /** Cancels that came before the offer (`id \0 token` → when). */
  readonly #cancelledEarly = new Map<string, number>();
  /** Tasks whose outcome reached their coordinator (`id \0 token` → when). */
  readonly #finished = new Map<string, number>();
  readonly #outboxes = new Map<string, ReportOutbox>();
  readonly #subscriptions: Subscription[] = [];
  readonly #hostLeased: HostLeased[] = [];
  readonly #sink: RunSink;
  #declinedFull = false;
  #draining = false;
  #closing: Promise<void> | undefined;
  #resolveClosed!: () => void;

  private constructor(settings: AgentSettings) {
    this.#settings = settings;
    this.name = settings.name;
    this.queue = settings.queue;
    this.capacity = settings.capacity;
    this.#logger = settings.logger;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const { conn, timing } = settings;
    for (const executor of Object.values(settings.executors)) {
      if (typeof (executor as Partial<HostLeased>).renewHostLease === 'function')
        this.#hostLeased.push(executor as unknown as HostLeased);
    }
    this.#lease = new LeaseHolder({
      kv: conn.leases,
      nc: conn.nc,
      key: agentLeaseKey(settings.name),
      timing,
      logger: this.#logger,
      record: (epoch) => ({
        v: 1,
        kind: 'agent',
        name: settings.name,
        epoch,
        state: 'live',
        leaseMs: timing.leaseMs,
        host: hostname(),
        pid: process.pid,
        queue: settings.queue,
        capacity: settings.capacity,
        executors: Object.keys(settings.executors),
      }),
      onLost: (loss) => this.#fence(loss),
      onRenewed: (validForMs) => this.#renewChildren(validForMs),
      onRegained: (epoch, sameEpoch) => {
        this.#logger.warn({ epoch, sameEpoch }, 'the agent holds its lease again and takes tasks');
        this.#publishFree();
      },
    });
    this.#coordinators = new LeaseObserver({
      kv: conn.leases,
      prefix: 'c.',
      selfName: settings.name,
      logger: this.#logger,
      garbage: settings.garbage,
      onLost: (lease, loss) => this.#onCoordinatorLost(lease, loss),
    });
    this.#sink = {
      started: (run) => this.#report(run, EventBit.started),
      running: (run) => this.#report(run, EventBit.running),
      progress: (run, value) => this.#report(run, EventBit.progress, value),
      finished: (run, value) => this.#report(run, EventBit.finished, value),
      failed: (run, error) => this.#report(run, EventBit.failed, undefined, error),
    };
  }

  /** Starts an agent from validated settings. @internal */
  static async start(settings: AgentSettings): Promise<Agent> {
    const agent = new Agent(settings);
    try {
      await agent.#lease.acquire();
      await agent.#coordinators.start();
      agent.#listen();
    } catch (error) {
      agent.#lease.stop();
      agent.#coordinators.stop();
      throw error;
    }
    agent.#logger.info(
      {
        queue: settings.queue,
        capacity: settings.capacity,
        leaseMs: settings.timing.leaseMs,
        marginMs: settings.timing.marginMs,
      },
      `agent ${settings.name} serves queue ${settings.queue}`,
    );
    agent.#publishFree();
    return agent;
  }

  /** A snapshot of the agent. */
  get stats(): AgentStats {
    const pids: number[] = [];
    for (const executor of Object.values(this.#settings.executors)) {
      const list = (executor as { pids?: unknown }).pids;
      if (Array.isArray(list)) pids.push(...list.filter((pid): pid is number => typeof pid === 'number'));
    }
    return {
      name: this.name,
      queue: this.queue,
      capacity: this.capacity,
      running: this.#running,
      free: this.#free,
      draining: this.#draining,
      leaseValid: this.#lease.valid,
      epoch: this.#lease.epoch,
      pids,
    };
  }

  get #free(): number {
    if (this.#draining || !this.#lease.valid) return 0;
    return Math.max(0, this.capacity - this.#running);
  }

  /**
   * Drains the agent: it takes nothing new (queued tasks stay for other agents), cancels what runs,
   * stops hard what has not stopped after `graceMs`, reports every outcome, releases its lease (an
   * agent of the same name can start at once), closes its executors and disconnects. Idempotent.
   *
   * @throws RangeError when `graceMs` is not a number of milliseconds.
   */
  close(options: AgentCloseOptions = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    const graceMs = options.graceMs ?? 5_000;
    if (typeof graceMs !== 'number' || !Number.isFinite(graceMs) || graceMs < 0 || graceMs > MAX_TIMER_MS) {
      return Promise.reject(
        new RangeError(`agent.close: graceMs must be from 0 to ${MAX_TIMER_MS} ms, got ${graceMs}`),
      );
    }
    this.#closing = this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    this.#draining = true;
    this.#logger.info({ graceMs, running: this.#running }, `agent ${this.name} is draining`);
    const runs = [...this.#runs.values()].filter((run) => !run.workStopped);
    for (const run of runs)
      run.cancel(
        new TaskCancelledError(run.id, `task ${run.id} was cancelled: agent ${this.name} is closing`),
        true,
      );
    const killTimer = setTimeout(() => {
      for (const run of runs) run.kill();
    }, graceMs);
    await Promise.all(runs.map((run) => run.stopped));
    clearTimeout(killTimer);
    // Every outcome to its coordinator, as long as they can be reached within a lease.
    await Promise.race([
      Promise.all([...this.#outboxes.values()].map((outbox) => outbox.idle())),
      new Promise((resolve) => setTimeout(resolve, 2 * this.#settings.timing.leaseMs).unref()),
    ]);
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    await this.#lease.release();
    this.#coordinators.stop();
    for (const outbox of this.#outboxes.values()) outbox.drop();
    const results = await Promise.allSettled(
      Object.values(this.#settings.executors).map((executor) => executor.close()),
    );
    for (const result of results) {
      if (result.status === 'rejected')
        this.#logger.error({ err: toError(result.reason) }, 'closing an executor failed');
    }
    await this.#settings.conn.nc.close().catch(() => undefined);
    this.#logger.info(`agent ${this.name} closed`);
    this.#resolveClosed();
  }

  #listen(): void {
    const { conn, names } = this.#settings;
    this.#subscriptions.push(
      conn.nc.subscribe(names.agentOffer(this.name), {
        callback: (error, msg) => {
          if (error) return;
          const offer = decode(msg.data);
          if (!isOfferMessage(offer)) {
            this.#settings.garbage.report(msg.subject, 'not an offer');
            return;
          }
          const key = coordinatorLeaseKey(offer.coordinator);
          if (this.#coordinators.current(key) || this.#coordinators.isLost(key, offer.coordinatorEpoch)) {
            msg.respond(encode(this.#answer(offer)));
            return;
          }
          // A coordinator the lease watch has not shown yet: read its lease first (its tasks must be
          // stopped if it goes away, so the agent must be watching it before it runs any).
          this.#coordinators
            .fetch(key)
            .catch(() => undefined)
            .then(() => msg.respond(encode(this.#answer(offer))));
        },
      }),
      conn.nc.subscribe(names.agentControl(this.name), {
        callback: (error, msg) => {
          if (error) return;
          const request = decode(msg.data);
          if (isStatsMessage(request)) {
            const stats = this.stats;
            const reply: StatsReply = {
              t: 'stats-reply',
              agent: this.name,
              capacity: stats.capacity,
              running: stats.running,
              free: stats.free,
              draining: stats.draining,
              pids: stats.pids,
            };
            msg.respond(encode(reply));
            return;
          }
          if (!isControlMessage(request)) {
            this.#settings.garbage.report(msg.subject, 'not a control request');
            return;
          }
          void this.#control(request).then((reply) => {
            if (msg.reply) msg.respond(encode(reply));
          });
        },
      }),
    );
    void this.#watchReconnects();
  }

  /** Decides on every task of an offer; those taken are launched before the reply goes out. */
  #answer(offer: OfferMessage): OfferReply {
    const accepted: string[] = [];
    const declined: Array<[string, DeclineReason]> = [];
    const coordinatorKey = coordinatorLeaseKey(offer.coordinator);
    const coordinator = this.#coordinators.current(coordinatorKey);
    const refusal: DeclineReason | undefined = this.#draining
      ? 'draining'
      : offer.agentEpoch !== this.#lease.epoch
        ? 'wrong-epoch'
        : !this.#lease.valid
          ? 'fenced'
          : coordinator?.record.epoch !== offer.coordinatorEpoch ||
              this.#coordinators.isLost(coordinatorKey, offer.coordinatorEpoch)
            ? 'coordinator-lost'
            : undefined;
    this.#forgetOld();
    const coordinatorRef = { id: offer.coordinator, epoch: offer.coordinatorEpoch };
    const traces = offerTraceContexts(offer);
    if (traces.problem !== undefined) {
      // Ignored on its own: the tasks are still taken, without a parent context.
      this.#settings.garbage.report(this.#settings.names.agentOffer(this.name), traces.problem);
    }
    for (let index = 0; index < offer.tasks.length; index++) {
      const wire = offer.tasks[index] as OfferMessage['tasks'][number];
      const id = wire[0];
      const key = runKey(id, wire[1]);
      const existing = this.#runs.get(key);
      if (existing && existing.coordinator.id === offer.coordinator) {
        accepted.push(id); // asked again about a task it took: the same answer
        continue;
      }
      if (this.#finished.has(key)) {
        declined.push([id, 'finished']);
        continue;
      }
      if (refusal) {
        declined.push([id, refusal]);
        continue;
      }
      if (this.#cancelledEarly.has(key)) {
        declined.push([id, 'cancelled']);
        continue;
      }
      const executor = this.#settings.executors[wire[2]];
      if (!executor || existing) {
        declined.push([id, 'no-executor']);
        continue;
      }
      if (this.#running >= this.capacity) {
        this.#declinedFull = true;
        declined.push([id, 'full']);
        continue;
      }
      const task = offeredTask(wire, traces.carriers?.[index]);
      const run = new LocalRun({
        task,
        coordinator: coordinatorRef,
        agent: this.name,
        executor,
        // Built on first use (a pino child per task is a cost most tasks never need).
        logger: () =>
          this.#logger.child(
            { coordinator: offer.coordinator, jobId: task.jobId, executionId: task.id, task: task.name },
            LOG_LEVELS.has(task.logLevel) ? { level: task.logLevel } : {},
          ),
        sink: this.#sink,
        maxValueBytes: this.#settings.conn.maxPayload - 2_048,
      });
      this.#runs.set(key, run);
      this.#running++;
      void run.stopped.then(() => this.#workStopped());
      accepted.push(task.id);
      run.start();
    }
    return { t: 'offer-reply', accepted, declined, free: this.#free };
  }

  async #control(request: ControlMessage): Promise<ControlReply> {
    const key = runKey(request.id, request.token);
    const run = this.#runs.get(key);
    const mine = run !== undefined && run.coordinator.id === request.coordinator;
    let stack: string | undefined;
    switch (request.op) {
      case 'cancel':
        if (mine)
          run.cancel(request.reason ? deserializeError(request.reason) : new TaskCancelledError(request.id));
        else this.#remember(this.#cancelledEarly, key);
        break;
      case 'kill':
        if (mine) run.kill();
        else this.#remember(this.#cancelledEarly, key);
        break;
      case 'interrupt':
        if (mine) run.interrupt();
        break;
      case 'diagnose':
        if (mine)
          stack = await run
            .diagnose()
            .catch((error: unknown) => `diagnostics unavailable: ${toError(error).message}`);
        break;
    }
    return { t: 'control-reply', known: mine, stack };
  }

  #report(run: LocalRun, bit: number, value?: Uint8Array, error?: unknown): void {
    const failure = bit === EventBit.failed ? boundedError(error) : undefined;
    const bytes = failure?.bytes ?? value?.byteLength ?? 0;
    this.#outbox(run.coordinator.id).push(
      run.id,
      run.token,
      bit,
      value,
      failure?.serialized,
      run.fenced,
      bytes,
    );
  }

  #outbox(coordinator: string): ReportOutbox {
    let outbox = this.#outboxes.get(coordinator);
    if (!outbox) {
      const { conn, names } = this.#settings;
      outbox = new ReportOutbox({
        requester: conn.requester,
        subject: names.coordinatorReport(coordinator),
        agent: this.name,
        maxPayload: conn.maxPayload,
        logger: this.#logger,
        stamp: () => ({ epoch: this.#lease.epoch, free: this.#free }),
        onAcked: (events) => {
          for (const event of events) {
            if ((event[2] & (EventBit.finished | EventBit.failed)) === 0) continue;
            const key = runKey(event[0], event[1]);
            const run = this.#runs.get(key);
            if (run) run.settled = true;
            this.#runs.delete(key);
            this.#remember(this.#finished, key);
          }
        },
      });
      this.#outboxes.set(coordinator, outbox);
    }
    return outbox;
  }

  #workStopped(): void {
    this.#running--;
    if (this.#declinedFull && !this.#draining) {
      this.#declinedFull = false;
      this.#publishFree();
    }
  }

  /** Tells the coordinators of its queue that it has room (after it had to decline offers). */
  #publishFree(): void {
    if (!this.#lease.valid || this.#draining) return;
    const { conn, names } = this.#settings;
    const message: FreeMessage = {
      t: 'free',
      agent: this.name,
      agentEpoch: this.#lease.epoch,
      free: this.#free,
    };
    try {
      conn.nc.publish(names.free(this.queue), encode(message));
    } catch (error) {
      this.#logger.debug({ err: toError(error) }, 'announcing free capacity failed');
    }
  }

  /** The lease can no longer be trusted: stop every task hard, take nothing new until it is held again. */
  #fence(loss: 'expired' | 'taken-over'): void {
    const live = [...this.#runs.values()].filter((run) => !run.workStopped);
    this.#logger.error(
      { loss, running: live.length },
      loss === 'expired'
        ? 'the agent could not renew its lease in time: stopping every task (fencing)'
        : 'the agent was declared lost: stopping every task',
    );
    for (const run of live) {
      run.fenced = true;
      run.kill();
    }
  }

  /** After each renewal: child processes may live until just before the lease can be taken over. */
  #renewChildren(validForMs: number): void {
    const until = validForMs + this.#settings.timing.marginMs - FENCE_SLACK_MS;
    for (const executor of this.#hostLeased) {
      try {
        executor.renewHostLease(until);
      } catch (error) {
        this.#logger.error({ err: toError(error) }, 'renewing the host lease of an executor failed');
      }
    }
  }

  /**
   * A coordinator is gone: its tasks are cancelled now and stopped hard after each task's own
   * `gracePeriodMs`. Their outcomes are still reported, for a coordinator that was only cut off.
   */
  #onCoordinatorLost(lease: ObservedLease, loss: ObservedLoss): void {
    const { name, epoch } = lease.record;
    const runs = [...this.#runs.values()].filter(
      (run) => run.coordinator.id === name && run.coordinator.epoch === epoch && !run.workStopped,
    );
    if (runs.length > 0) {
      this.#logger.warn(
        { coordinator: name, loss, tasks: runs.length },
        `coordinator ${name} is gone: stopping its tasks`,
      );
    }
    for (const run of runs) {
      run.cancel(
        new TaskCancelledError(
          run.id,
          `task ${run.id} was cancelled: its coordinator ${name} is gone (${loss})`,
        ),
        true,
      );
      const grace = run.task.timings.gracePeriodMs;
      if (grace === 0) run.kill();
      else setTimeout(() => run.kill(), Math.min(grace, MAX_TIMER_MS)).unref();
    }
    // Reports nobody will take: give up on them once the coordinator has had two leases to come back.
    setTimeout(() => {
      if (this.#coordinators.current(coordinatorLeaseKey(name))) return;
      const outbox = this.#outboxes.get(name);
      if (!outbox) return;
      this.#outboxes.delete(name);
      outbox.drop();
      for (const [key, run] of this.#runs) {
        if (run.coordinator.id !== name) continue;
        run.settled = true;
        if (run.workStopped) this.#runs.delete(key);
        else void run.stopped.then(() => this.#runs.delete(key));
      }
    }, 2 * lease.record.leaseMs).unref();
  }

  /** Back from a disconnection: apply cancels and kills recorded while the agent could not hear them. */
  async #watchReconnects(): Promise<void> {
    const { conn } = this.#settings;
    for await (const status of conn.nc.status()) {
      if (status.type !== 'reconnect') continue;
      for (const run of [...this.#runs.values()]) {
        if (run.workStopped) continue;
        try {
          const entry = await conn.tasks.get(taskKey(run.id));
          const record = entry?.operation === 'PUT' ? parseTaskRecord(entry.value) : undefined;
          if (!record || record.coordinator !== run.coordinator.id) continue;
          if (record.cancel) run.cancel(new TaskCancelledError(run.id));
          if (record.kill) run.kill();
        } catch (error) {
          this.#logger.debug({ err: toError(error) }, 'reading a task record after a reconnect failed');
        }
      }
    }
  }

  #remember(memory: Map<string, number>, key: string): void {
    memory.set(key, now());
    if (memory.size > MEMORY_MAX) memory.delete(memory.keys().next().value as string);
  }

  #forgetOld(): void {
    const oldest = now() - MEMORY_MS;
    for (const memory of [this.#cancelledEarly, this.#finished]) {
      for (const [key, at] of memory) {
        if (at >= oldest) break; // insertion order is time order
        memory.delete(key);
      }
    }
  }
}

function runKey(id: string, token: number): string {
  return `${id}\u0000${token}`;
}

/**
 * A serialized error small enough to report (extra fields dropped and texts clipped when needed),
 * and its encoded size: the check's encoding is the size, so a failure is encoded once.
 */
function boundedError(error: unknown): { serialized: SerializedError; bytes: number } {
  const serialized = serializeError(error);
  try {
    const bytes = encode(serialized).byteLength;
    if (bytes <= MAX_ERROR_BYTES) return { serialized, bytes };
  } catch {
    /* clipped below */
  }
  const clipped: SerializedError = {
    __taskwardenError: 1,
    name: serialized.name,
    message: serialized.message.slice(0, 4_096),
    ...(serialized.stack === undefined ? {} : { stack: serialized.stack.slice(0, 16_384) }),
    ...(typeof serialized.code === 'string' ? { code: serialized.code } : {}),
    props: {},
  };
  return { serialized: clipped, bytes: encode(clipped).byteLength };
}
