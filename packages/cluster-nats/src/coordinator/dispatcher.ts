/**
 * Offers registered tasks to agents. Tasks wait in one FIFO queue; whenever an agent has credits the
 * head of the queue is assigned to the agent with the most, and each agent gets at most one offer
 * request in flight, carrying every task assigned to it since (batching, up to the server's maximum
 * payload). The agent's reply is definitive for each task: taken (it runs there now) or declined
 * (back to the queue). Without a reply:
 *
 * - nobody listened on the agent's subject (no responders): the offer was delivered to no one, so
 *   its tasks go back to the queue, unless an earlier offer of the same assignment may have arrived;
 * - the request timed out: the agent may have taken the tasks, so they are offered to the same agent
 *   again (it answers the same for a task it took) until it answers or is declared lost.
 * @internal
 * @module
 */
import type { Logger } from '@taskwarden/sdk';
import { SerializationError, toError } from '@taskwarden/sdk';
import { now } from '../clock.js';
import { isNoResponders } from '../nats/cas-errors.js';
import type { ClusterConnection } from '../nats/cluster-connection.js';
import { decode, encode } from '../protocol/codec.js';
import type { GarbageLog } from '../protocol/garbage-log.js';
import type { DeclineReason, OfferedTaskWire, OfferMessage } from '../protocol/messages.js';
import type { ClusterNames } from '../protocol/subjects.js';
import { isOfferReply, isStatsReply } from '../protocol/validate.js';
import type { AgentDirectory, AgentEntry } from './agent-directory.js';
import type { RemoteExecution } from './remote-execution.js';

/** How long an agent has to answer an offer before it is asked again. */
const OFFER_TIMEOUT_MS = 2_000;
/** After no responders: the agent is not connected; leave it alone this long. */
const QUIET_AFTER_NO_RESPONDERS_MS = 250;
/** Before asking an agent again about an offer that timed out. */
const RETRY_UNKNOWN_MS = 100;
/**
 * While tasks wait, an agent believed full is offered one task this often anyway: the messages that
 * say it has room again are plain publishes, and one lost in a reconnect must not stall the queue.
 */
const PROBE_EVERY_MS = 500;
/** Room in a message for everything but the tasks' inputs. */
const ENVELOPE_BYTES = 1_024;
const ITEM_OVERHEAD_BYTES = 512;
/** How stale the log level sent with offered tasks may be. */
const LOG_LEVEL_READ_EVERY_MS = 1_000;

/** What a {@link Dispatcher} needs. @internal */
export interface DispatcherOptions {
  readonly conn: ClusterConnection;
  readonly names: ClusterNames;
  readonly directory: AgentDirectory;
  readonly coordinatorId: string;
  /** The agent executor key the tasks run on. */
  readonly agentExecutor: string;
  readonly logger: Logger;
  readonly garbage: GarbageLog;
  /** The coordinator's lease epoch, and whether the lease may be trusted right now. */
  readonly lease: () => { readonly epoch: string; readonly valid: boolean };
  /** The agent took the task. */
  readonly onTaken: (execution: RemoteExecution) => void;
}

/** The offer machinery of one coordinator. @internal */
export class Dispatcher {
  readonly #options: DispatcherOptions;
  readonly #queue: RemoteExecution[] = [];
  #pumpScheduled = false;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #probeTimer: NodeJS.Timeout;
  #stopped = false;
  #level = 'info';
  #levelReadAt: number | undefined;

  constructor(options: DispatcherOptions) {
    this.#options = options;
    this.#probeTimer = setInterval(() => this.#probe(), PROBE_EVERY_MS);
    this.#probeTimer.unref();
  }

  /** Tasks waiting for an agent with free capacity. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queues a registered task (or one an agent declined) for an offer. */
  enqueue(execution: RemoteExecution, front = false): void {
    execution.phase = 'queued';
    execution.agent = undefined;
    execution.offerUnknown = false;
    if (front) this.#queue.unshift(execution);
    else this.#queue.push(execution);
    this.pump();
  }

  /**
   * Takes back a task that no request has carried yet (queued, or assigned to an agent but not sent);
   * false when it may have reached an agent.
   */
  withdraw(execution: RemoteExecution): boolean {
    if (execution.phase === 'queued') {
      const index = this.#queue.indexOf(execution);
      if (index !== -1) this.#queue.splice(index, 1);
      return true;
    }
    if (execution.phase === 'offering' && !execution.offerInFlight && !execution.offerUnknown) {
      const entry =
        execution.agent && this.#options.directory.get(execution.agent.name, execution.agent.epoch);
      if (entry) {
        const index = entry.pending.indexOf(execution);
        if (index !== -1) entry.pending.splice(index, 1);
        entry.credits++;
      }
      return true;
    }
    return false;
  }

  /** An agent's epoch is over: tasks that certainly never reached it go back to the queue. */
  agentLost(entry: AgentEntry): void {
    for (const execution of entry.pending.splice(0).reverse()) {
      if (!execution.ended && !execution.offerInFlight && !execution.offerUnknown)
        this.enqueue(execution, true);
    }
  }

  /** Assigns queued tasks and sends offers, soon (once per turn of the event loop). */
  pump(): void {
    if (this.#pumpScheduled || this.#stopped) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pumpNow();
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#probeTimer);
  }

  /**
   * Tasks wait and some agent looks full: ask it how much room it has (a stats request, which risks
   * no task), so a lost "free" message cannot stall the queue.
   */
  #probe(): void {
    if (this.#queue.length === 0) return;
    const time = now();
    for (const agent of this.#options.directory.all()) {
      if (agent.credits > 0 || agent.offerInFlight || agent.pending.length > 0 || agent.quietUntil > time)
        continue;
      if (agent.probing) continue;
      agent.probing = true;
      void this.#askFree(agent).finally(() => {
        agent.probing = false;
      });
    }
  }

  async #askFree(agent: AgentEntry): Promise<void> {
    const { conn, names } = this.#options;
    try {
      const reply = decode(
        (
          await conn.nc.request(names.agentControl(agent.name), encode({ t: 'stats' }), {
            timeout: OFFER_TIMEOUT_MS,
          })
        ).data,
      );
      if (isStatsReply(reply)) {
        this.#options.directory.setCredits(agent.name, agent.epoch, reply.free);
        this.pump();
      }
    } catch {
      // Not connected now: its lease decides whether it is lost; the next probe asks again.
    }
  }

  #pumpNow(): void {
    if (this.#stopped || !this.#options.lease().valid) return;
    const { directory } = this.#options;
    while (this.#queue.length > 0) {
      const agent = directory.pick();
      if (!agent) break;
      const execution = this.#queue.shift() as RemoteExecution;
      if (execution.ended) continue;
      execution.phase = 'offering';
      execution.agent = { name: agent.name, epoch: agent.epoch };
      agent.credits--;
      agent.pending.push(execution);
    }
    for (const agent of directory.all()) {
      if (agent.pending.length > 0 && !agent.offerInFlight) void this.#offer(agent);
    }
  }

  async #offer(agent: AgentEntry): Promise<void> {
    const { conn, names, coordinatorId, logger } = this.#options;
    const lease = this.#options.lease();
    if (!lease.valid) return;
    const batch = this.#takeBatch(agent);
    if (batch.length === 0) return;
    agent.offerInFlight = true;
    for (const execution of batch) execution.offerInFlight = true;
    const message: OfferMessage = {
      t: 'offer',
      coordinator: coordinatorId,
      coordinatorEpoch: lease.epoch,
      agentEpoch: agent.epoch,
      tasks: batch.map((execution) => this.#item(execution)),
      // Only when a task has a trace context: without a propagator the offer has no such field.
      ...(batch.some((execution) => execution.traceContext !== undefined)
        ? { trace: batch.map((execution) => execution.traceContext?.carrier) }
        : {}),
    };
    let outcome: 'replied' | 'nobody' | 'unknown' = 'unknown';
    let taken: ReadonlySet<string> = new Set();
    let declined = new Map<string, DeclineReason>();
    try {
      const reply = decode(
        (await conn.requester.request(names.agentOffer(agent.name), encode(message), OFFER_TIMEOUT_MS)).data,
      );
      if (isOfferReply(reply)) {
        outcome = 'replied';
        taken = new Set(reply.accepted);
        declined = new Map(reply.declined.map(([id, reason]) => [id, reason]));
        this.#options.directory.setCredits(agent.name, agent.epoch, reply.free);
      } else {
        this.#options.garbage.report(names.agentOffer(agent.name), 'not an offer reply');
      }
    } catch (error) {
      if (isNoResponders(error)) {
        outcome = 'nobody';
        agent.credits = 0;
        agent.quietUntil = now() + QUIET_AFTER_NO_RESPONDERS_MS;
        setTimeout(() => this.pump(), QUIET_AFTER_NO_RESPONDERS_MS).unref();
      } else {
        logger.debug({ err: toError(error), agent: agent.name }, 'an offer was not answered; asking again');
      }
    } finally {
      agent.offerInFlight = false;
      for (const execution of batch) execution.offerInFlight = false;
    }
    const retry: RemoteExecution[] = [];
    for (const execution of batch) {
      const sameAssignment =
        !execution.ended && execution.agent?.name === agent.name && execution.agent.epoch === agent.epoch;
      if (!sameAssignment) continue;
      if (outcome === 'replied' && taken.has(execution.id)) {
        this.#options.onTaken(execution);
      } else if (outcome === 'replied' && declined.has(execution.id)) {
        this.#declined(execution, declined.get(execution.id) as DeclineReason);
      } else if (outcome === 'nobody' && !execution.offerUnknown) {
        this.enqueue(execution, true);
      } else {
        // Timed out, garbled, or not mentioned: the agent may have it; ask the same agent again.
        execution.phase = 'unknown';
        execution.offerUnknown = true;
        retry.push(execution);
      }
    }
    if (retry.length > 0) {
      agent.pending.unshift(...retry);
      clearTimeout(this.#retryTimer);
      this.#retryTimer = setTimeout(() => this.pump(), RETRY_UNKNOWN_MS);
      this.#retryTimer.unref();
    }
    this.pump();
  }

  #declined(execution: RemoteExecution, reason: DeclineReason): void {
    if (reason === 'finished') {
      // It ran there and its outcome is on the way (the agent keeps it until we acknowledge it).
      this.#options.onTaken(execution);
      return;
    }
    if (execution.cancelRequested) {
      // It never started anywhere, and nobody wants it any more.
      execution.reject(execution.cancelReason as Error);
      return;
    }
    if (reason === 'no-executor') {
      this.#options.logger.warn(
        { agent: execution.agent?.name, executor: this.#options.agentExecutor },
        'an agent declined a task: it has no such executor',
      );
    }
    this.enqueue(execution, true);
  }

  /** Tasks for one offer: as many pending ones as fit in the server's maximum payload. */
  #takeBatch(agent: AgentEntry): RemoteExecution[] {
    const budget = this.#options.conn.maxPayload - ENVELOPE_BYTES;
    const batch: RemoteExecution[] = [];
    let bytes = 0;
    while (agent.pending.length > 0) {
      const execution = agent.pending[0] as RemoteExecution;
      if (execution.ended) {
        agent.pending.shift();
        continue;
      }
      let size = execution.input.byteLength + ITEM_OVERHEAD_BYTES;
      if (size > budget) {
        agent.pending.shift();
        agent.credits++;
        execution.reject(
          new SerializationError('input', {
            cause: new RangeError(
              `the input is ${execution.input.byteLength} bytes encoded; the NATS server accepts messages of at most ${this.#options.conn.maxPayload} bytes`,
            ),
          }),
        );
        continue;
      }
      const trace = execution.traceContext;
      if (trace) {
        if (size + trace.bytes > budget) {
          // Tracing never fails a task: one that fits only without its trace context goes without.
          execution.traceContext = undefined;
          this.#options.logger.debug(
            { executionId: execution.id, bytes: trace.bytes },
            'a trace context did not fit in an offer with its task: the task goes without it',
          );
        } else {
          size += trace.bytes;
        }
      }
      if (batch.length > 0 && bytes + size > budget) break;
      agent.pending.shift();
      batch.push(execution);
      bytes += size;
    }
    return batch;
  }

  #item(execution: RemoteExecution): OfferedTaskWire {
    const { task, invokable } = execution.spec;
    const ref = invokable as { module: string; export?: string };
    const { timings } = execution;
    return [
      execution.id,
      execution.token,
      this.#options.agentExecutor,
      ref.module,
      ref.export,
      task.name,
      task.jobId,
      task.allocationId,
      task.attempt,
      execution.input,
      timings.interruptIntervalMs,
      timings.gracePeriodMs,
      timings.timeoutMs,
      this.#logLevel(execution),
    ];
  }

  /**
   * The level of the tasks' loggers, for the agents' task loggers: read at most once a second.
   * Reading `spec.logger` builds the task's child logger, which few tasks ever use otherwise; the
   * level is the runtime logger's, so one task's tells it for all.
   */
  #logLevel(execution: RemoteExecution): string {
    const time = now();
    if (this.#levelReadAt === undefined || time - this.#levelReadAt >= LOG_LEVEL_READ_EVERY_MS) {
      this.#levelReadAt = time;
      this.#level = execution.spec.logger.level;
    }
    return this.#level;
  }
}
