/**
 * A coordinator connected to the cluster: its lease, what it knows of the agents (a lease observer),
 * its task records, the offers, and what the agents report. One session per connection; the
 * `NatsClusterExecutor` opens it on first use and closes it on `close()`.
 * @internal
 * @module
 */
import { hostname } from 'node:os';
import type { Subscription } from '@nats-io/transport-node';
import type { Logger } from '@taskwarden/sdk';
import {
  ErrorCode,
  ExecutorClosedError,
  SerializationError,
  TaskSubmissionError,
  toError,
} from '@taskwarden/sdk';
import { deserializeError, serializeError } from '@taskwarden/sdk/internal';
import { AgentLostError } from '../errors.js';
import { LeaseHolder } from '../lease/lease-holder.js';
import type { ObservedLease, ObservedLoss } from '../lease/lease-observer.js';
import { LeaseObserver } from '../lease/lease-observer.js';
import type { LeaseTiming } from '../lease/lease-timing.js';
import type { ClusterConnection } from '../nats/cluster-connection.js';
import { decode, decodeValue, encode, GARBAGE } from '../protocol/codec.js';
import type { GarbageLog } from '../protocol/garbage-log.js';
import type {
  ControlMessage,
  ControlOp,
  ControlReply,
  ReportAck,
  ReportEvent,
} from '../protocol/messages.js';
import { EventBit } from '../protocol/messages.js';
import type { ClusterNames } from '../protocol/subjects.js';
import { agentLeaseKey, coordinatorLeaseKey } from '../protocol/subjects.js';
import { isControlReply, isFreeMessage, isReportMessage } from '../protocol/validate.js';
import { AgentDirectory } from './agent-directory.js';
import { Dispatcher } from './dispatcher.js';
import type { RemoteExecution } from './remote-execution.js';
import { TaskRegistry } from './task-registry.js';

/** How long an agent has to answer a control request before it is asked again. */
const CONTROL_TIMEOUT_MS = 2_000;
const CONTROL_RETRY_MAX_MS = 500;
/** What `diagnose()` waits for the agent's answer (the runtime itself waits 2 s). */
const DIAGNOSE_TIMEOUT_MS = 1_800;
/** Every report gets the same answer. */
const ACK: Uint8Array = encode({ t: 'ack' } satisfies ReportAck);
/** Slack on top of the bounds an unreachable agent is given after this coordinator lost its lease. */
const LOST_COORDINATOR_SLACK_MS = 500;

/** What a {@link CoordinatorSession} needs. @internal */
export interface CoordinatorSessionOptions {
  readonly conn: ClusterConnection;
  readonly names: ClusterNames;
  readonly coordinatorId: string;
  readonly queue: string;
  readonly agentExecutor: string;
  readonly timing: LeaseTiming;
  readonly maxInFlight: number;
  readonly logger: Logger;
  readonly garbage: GarbageLog;
  /** The executor's live executions by id (shared: the executor adds, the session's `ended` removes). */
  readonly executions: Map<string, RemoteExecution>;
}

/** A connected coordinator. @internal */
export class CoordinatorSession {
  readonly #options: CoordinatorSessionOptions;
  readonly #lease: LeaseHolder;
  readonly #agents: LeaseObserver;
  readonly #directory: AgentDirectory;
  readonly #registry: TaskRegistry;
  readonly #dispatcher: Dispatcher;
  readonly #subscriptions: Subscription[] = [];
  /** Submitted but not registered yet: `maxInFlight` reached. */
  readonly #waiting: RemoteExecution[] = [];
  /** Registering, queued, offered or running. */
  readonly #inFlight = new Set<RemoteExecution>();
  readonly #backstops = new Set<NodeJS.Timeout>();
  #closed = false;

  private constructor(options: CoordinatorSessionOptions) {
    this.#options = options;
    const { conn, names, coordinatorId, logger, garbage, timing } = options;
    this.#directory = new AgentDirectory({
      queue: options.queue,
      executor: options.agentExecutor,
      maxLeaseMs: timing.leaseMs,
      onTooSlow: (lease) =>
        logger.warn(
          { agent: lease.record.name, agentLeaseMs: lease.record.leaseMs, leaseMs: timing.leaseMs },
          `agent ${lease.record.name} gets no tasks from this coordinator: its leaseMs ${lease.record.leaseMs} is longer than this coordinator's ${timing.leaseMs}, so its loss could not be detected within the bound the runtime was promised`,
        ),
    });
    this.#lease = new LeaseHolder({
      kv: conn.leases,
      nc: conn.nc,
      key: coordinatorLeaseKey(coordinatorId),
      timing,
      logger,
      record: (epoch) => ({
        v: 1,
        kind: 'coordinator',
        name: coordinatorId,
        epoch,
        state: 'live',
        leaseMs: timing.leaseMs,
        host: hostname(),
        pid: process.pid,
      }),
      onLost: (loss) => {
        if (loss === 'taken-over') this.#onOwnLeaseTakenOver();
      },
      onRegained: (_epoch, sameEpoch) => {
        if (!sameEpoch) this.#resubmitQueued();
        this.#dispatcher.pump();
      },
      onRenewed: () => this.#dispatcher.pump(),
    });
    this.#agents = new LeaseObserver({
      kv: conn.leases,
      prefix: 'a.',
      selfName: coordinatorId,
      logger,
      garbage,
      onLive: (lease) => {
        if (this.#directory.onLive(lease)) this.#dispatcher.pump();
      },
      onLost: (lease, loss) => this.#onAgentLost(lease, loss),
    });
    this.#registry = new TaskRegistry({
      conn,
      names,
      coordinatorId,
      queue: options.queue,
      logger,
      garbage,
      isLive: (id, nonce) => {
        const execution = options.executions.get(id);
        return execution !== undefined && !execution.ended && execution.nonce === nonce;
      },
      registered: () => this.#inFlight,
    });
    this.#dispatcher = new Dispatcher({
      conn,
      names,
      directory: this.#directory,
      coordinatorId,
      agentExecutor: options.agentExecutor,
      logger,
      garbage,
      lease: () => ({ epoch: this.#lease.epoch, valid: this.#lease.valid }),
      onTaken: (execution) => this.#taken(execution),
    });
  }

  /** Takes the coordinator's lease and starts listening. */
  static async open(options: CoordinatorSessionOptions): Promise<CoordinatorSession> {
    const session = new CoordinatorSession(options);
    await session.#start();
    return session;
  }

  async #start(): Promise<void> {
    const { conn, names, coordinatorId, queue, garbage } = this.#options;
    await this.#lease.acquire();
    this.#registry.start();
    this.#subscriptions.push(
      conn.nc.subscribe(names.coordinatorReport(coordinatorId), {
        callback: (error, msg) => {
          if (error) return;
          const report = decode(msg.data);
          if (!isReportMessage(report)) {
            garbage.report(msg.subject, report === GARBAGE ? 'undecodable' : 'not a report');
            return;
          }
          for (const event of report.events) this.#onEvent(report.agent, report.agentEpoch, event);
          msg.respond(ACK);
          this.#directory.setCredits(report.agent, report.agentEpoch, report.free);
          this.#dispatcher.pump();
        },
      }),
      conn.nc.subscribe(names.free(queue), {
        callback: (error, msg) => {
          if (error) return;
          const free = decode(msg.data);
          if (!isFreeMessage(free)) {
            garbage.report(msg.subject, 'not a free message');
            return;
          }
          this.#directory.setCredits(free.agent, free.agentEpoch, free.free);
          this.#dispatcher.pump();
        },
      }),
    );
    await this.#agents.start();
  }

  /** Counts for `NatsClusterExecutor.stats`. */
  get stats(): { waiting: number; inFlight: number; queued: number; agents: number } {
    return {
      waiting: this.#waiting.length,
      inFlight: this.#inFlight.size,
      queued: this.#dispatcher.queued,
      agents: [...this.#directory.all()].length,
    };
  }

  /** Registers the task (or keeps it waiting while `maxInFlight` tasks are in flight). */
  submit(execution: RemoteExecution): void {
    if (this.#closed) {
      execution.reject(new ExecutorClosedError('nats-cluster'));
      return;
    }
    if (this.#inFlight.size >= this.#options.maxInFlight) {
      execution.phase = 'waiting';
      this.#waiting.push(execution);
      return;
    }
    this.#register(execution);
  }

  #register(execution: RemoteExecution): void {
    execution.phase = 'registering';
    this.#inFlight.add(execution);
    void this.#registry
      .register(execution, () => execution.ended || this.#closed)
      .then((registration) => {
        if (execution.ended) return;
        switch (registration.kind) {
          case 'registered':
            execution.token = registration.revision;
            execution.recordRevision = registration.revision;
            this.#dispatcher.enqueue(execution);
            return;
          case 'duplicate':
            execution.reject(
              new TaskSubmissionError(
                ErrorCode.DUPLICATE_EXECUTION_ID,
                `a live task of coordinator ${registration.owner} already has execution id ${execution.id} in this cluster`,
                { executionId: execution.id },
              ),
            );
            return;
          case 'abandoned':
            execution.reject(new ExecutorClosedError('nats-cluster'));
        }
      });
  }

  /** The agent took the task: from now on its work may run there. */
  #taken(execution: RemoteExecution): void {
    if (execution.ended) return;
    execution.phase = 'running';
    execution.offerUnknown = false;
    // A cancel asked while the offer was out has reached the agent (it declines offers it was told
    // to cancel, and cancels tasks it took); a kill must follow it there too.
    if (execution.killRequested) void this.#control(execution, 'kill');
  }

  #onEvent(agent: string, agentEpoch: string, event: ReportEvent): void {
    const [id, token, bits, value, error, fenced] = event;
    const execution = this.#options.executions.get(id);
    if (
      !execution ||
      execution.ended ||
      execution.token !== token ||
      execution.agent?.name !== agent ||
      execution.agent.epoch !== agentEpoch
    ) {
      return; // about a task that ended here already (lost agent, earlier outcome): the ack suffices
    }
    if (execution.phase !== 'running') this.#taken(execution);
    // In the order the work did them (an event may carry several).
    if (bits & EventBit.started) execution.markStarted();
    if (bits & EventBit.running) execution.markRunning();
    if (bits & EventBit.progress) {
      const progress = value ? decodeValue(value) : undefined;
      if (progress !== GARBAGE) execution.reportProgress(progress);
    }
    if (bits & EventBit.finished) {
      const result = value ? decodeValue(value) : undefined;
      if (result === GARBAGE) {
        execution.reject(
          new SerializationError('result', { cause: new Error('the result arrived unreadable') }),
        );
      } else {
        execution.resolve(result);
      }
    } else if (bits & EventBit.failed) {
      const cause = error ? deserializeError(error) : new Error('the task failed on its agent');
      execution.reject(
        fenced
          ? Object.assign(new AgentLostError({ agent, executionId: execution.id, reason: 'fenced' }), {
              cause,
            })
          : cause,
      );
    }
  }

  #onAgentLost(lease: ObservedLease, loss: ObservedLoss): void {
    const { name, epoch } = lease.record;
    if (lease.record.kind !== 'agent') return;
    this.#options.logger.warn({ agent: name, loss }, `agent ${name} is lost (${loss})`);
    const entry = this.#directory.remove(name, epoch);
    if (entry) this.#dispatcher.agentLost(entry);
    const reason = loss === 'lease-released' ? 'lease-released' : 'lease-expired';
    for (const execution of [...this.#inFlight]) {
      if (execution.ended || execution.agent?.name !== name || execution.agent.epoch !== epoch) continue;
      const mayRun = execution.phase === 'running' || execution.offerInFlight || execution.offerUnknown;
      if (mayRun) {
        execution.reject(new AgentLostError({ agent: name, executionId: execution.id, reason }));
      } else {
        this.#dispatcher.withdraw(execution);
        this.#dispatcher.enqueue(execution, true);
      }
    }
  }

  /**
   * This coordinator was declared lost. Agents cancel its tasks and stop them hard after each task's
   * `gracePeriodMs`, reporting what happened if they can reach us; a task whose outcome does not come
   * within that bound (plus an agent's own lease, should it be cut off too) ends FAILED.
   */
  #onOwnLeaseTakenOver(): void {
    const { logger, timing } = this.#options;
    logger.error('this coordinator lost its lease: agents are stopping its remote tasks');
    for (const execution of this.#inFlight) {
      if (execution.ended) continue;
      const mayRun = execution.phase === 'running' || execution.offerInFlight || execution.offerUnknown;
      if (!mayRun || !execution.agent) continue;
      const agent = execution.agent.name;
      const timer = setTimeout(
        () => {
          this.#backstops.delete(timer);
          execution.reject(
            new AgentLostError({ agent, executionId: execution.id, reason: 'coordinator-lease-lost' }),
          );
        },
        execution.timings.gracePeriodMs + 2 * timing.leaseMs + LOST_COORDINATOR_SLACK_MS,
      );
      this.#backstops.add(timer);
    }
  }

  /** After a new lease: tasks that never reached an agent are registered again under it. */
  #resubmitQueued(): void {
    for (const execution of [...this.#inFlight]) {
      if (execution.ended || !this.#dispatcher.withdraw(execution)) continue;
      this.#inFlight.delete(execution);
      this.#register(execution);
    }
  }

  cancel(execution: RemoteExecution, reason: Error): void {
    if (execution.phase === 'waiting') {
      const index = this.#waiting.indexOf(execution);
      if (index !== -1) this.#waiting.splice(index, 1);
      execution.reject(reason);
      return;
    }
    if (execution.phase === 'registering' || this.#dispatcher.withdraw(execution)) {
      // Never offered to any agent: it never starts anywhere.
      execution.reject(reason);
      return;
    }
    this.#registry.markStopRequested(execution);
    void this.#control(execution, 'cancel', reason);
  }

  interrupt(execution: RemoteExecution): void {
    const agent = execution.agent;
    if (execution.phase !== 'running' || !agent) return;
    const message = this.#controlMessage(execution, 'interrupt', undefined);
    try {
      this.#options.conn.nc.publish(this.#options.names.agentControl(agent.name), encode(message));
    } catch (error) {
      this.#options.logger.debug({ err: toError(error) }, 'interrupting a remote task failed');
    }
  }

  async kill(execution: RemoteExecution): Promise<void> {
    if (execution.phase !== 'running' && execution.phase !== 'offering' && execution.phase !== 'unknown')
      return;
    this.#registry.markStopRequested(execution);
    await this.#control(execution, 'kill');
  }

  async diagnose(execution: RemoteExecution): Promise<string | undefined> {
    const agent = execution.agent;
    if (execution.phase !== 'running' || !agent) return undefined;
    try {
      const reply = decode(
        (
          await this.#options.conn.nc.request(
            this.#options.names.agentControl(agent.name),
            encode(this.#controlMessage(execution, 'diagnose', undefined)),
            { timeout: DIAGNOSE_TIMEOUT_MS },
          )
        ).data,
      );
      if (!isControlReply(reply)) return undefined;
      return reply.stack === undefined ? undefined : `(on agent ${agent.name})\n${reply.stack}`;
    } catch {
      return undefined;
    }
  }

  ended(execution: RemoteExecution): void {
    if (this.#inFlight.delete(execution)) {
      while (this.#waiting.length > 0 && this.#inFlight.size < this.#options.maxInFlight) {
        this.#register(this.#waiting.shift() as RemoteExecution);
      }
    }
    this.#dispatcher.pump();
  }

  /** Sends a control request until the agent answers, the task ends, or its agent is lost. */
  async #control(
    execution: RemoteExecution,
    op: ControlOp,
    reason?: Error,
  ): Promise<ControlReply | undefined> {
    const { conn, names } = this.#options;
    let delay = 25;
    while (!execution.ended && !this.#closed) {
      const agent = execution.agent;
      if (!agent || this.#agents.isLost(agentLeaseKey(agent.name), agent.epoch)) return undefined;
      try {
        const reply = decode(
          (
            await conn.nc.request(
              names.agentControl(agent.name),
              encode(this.#controlMessage(execution, op, reason)),
              {
                timeout: CONTROL_TIMEOUT_MS,
              },
            )
          ).data,
        );
        if (isControlReply(reply)) return reply;
        this.#options.garbage.report(names.agentControl(agent.name), 'not a control reply');
      } catch {
        // Not delivered or not answered: the agent is asked again until it answers or is lost.
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, CONTROL_RETRY_MAX_MS);
    }
    return undefined;
  }

  #controlMessage(execution: RemoteExecution, op: ControlOp, reason: Error | undefined): ControlMessage {
    return {
      t: 'control',
      op,
      coordinator: this.#options.coordinatorId,
      id: execution.id,
      token: execution.token,
      reason: reason === undefined ? undefined : serializeError(reason),
    };
  }

  /**
   * Stops taking work, waits for what is in flight to end (bounded by its own ladder: the runtime has
   * normally cancelled everything before closing its executors), then releases the lease, which
   * makes agents stop anything of ours that is still running, and closes the connection.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    const closedError = new ExecutorClosedError('nats-cluster');
    for (const execution of this.#waiting.splice(0)) execution.reject(closedError);
    const running = [...this.#inFlight].filter((execution) => !execution.ended);
    for (const execution of running) {
      execution.cancel(closedError);
      void execution.kill();
    }
    const bound =
      Math.max(0, ...running.map((execution) => execution.timings.gracePeriodMs)) +
      2 * this.#options.timing.leaseMs;
    await Promise.race([
      Promise.allSettled(running.map((execution) => execution.result)),
      new Promise((resolve) => setTimeout(resolve, bound).unref()),
    ]);
    this.#closed = true;
    this.#dispatcher.stop();
    for (const timer of this.#backstops) clearTimeout(timer);
    this.#backstops.clear();
    await this.#lease.release();
    // Agents stop whatever of ours still runs once they see the lease released.
    for (const execution of [...this.#inFlight]) execution.reject(closedError);
    this.#agents.stop();
    this.#registry.stop();
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    await this.#options.conn.nc.close().catch(() => undefined);
  }
}
