/**
 * The coordinator's side of the cluster: an ordinary `Executor` whose tasks run on agents.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Execution, Executor, ExecutorCapabilities, LaunchSpec, Logger } from '@taskwarden/sdk';
import {
  createDefaultLogger,
  ErrorCode,
  ExecutorClosedError,
  InvalidInvokableError,
  SerializationError,
  TaskSubmissionError,
} from '@taskwarden/sdk';
import { isModuleReference } from '@taskwarden/sdk/internal';
import { leaseTiming } from '../lease/lease-timing.js';
import { connectCluster } from '../nats/cluster-connection.js';
import { checkKeys, countOption, msOption, nameOption, serversOption } from '../option-checks.js';
import { encodeValue } from '../protocol/codec.js';
import { GarbageLog } from '../protocol/garbage-log.js';
import { ClusterNames } from '../protocol/subjects.js';
import { captureTraceContext } from '../telemetry/trace-context.js';
import { CoordinatorSession } from './coordinator-session.js';
import type { NatsClusterExecutorOptions } from './nats-cluster-executor-options.js';
import type { RemoteControl } from './remote-execution.js';
import { RemoteExecution } from './remote-execution.js';

/**
 * How late, beyond an agent's `leaseMs`, its loss is declared at most: the observer's timer firing
 * late, reading the lease and taking it over by compare-and-set.
 */
export const DETECTION_TICK_MS = 250;

const OPTION_KEYS = [
  'servers',
  'queue',
  'agentExecutor',
  'leaseMs',
  'cluster',
  'maxInFlight',
  'connectTimeoutMs',
  'id',
  'logger',
] as const;

/** What {@link NatsClusterExecutor.stats} reports. */
export interface NatsClusterExecutorStats {
  /** Submitted, not yet registered (connecting, or `maxInFlight` reached). */
  readonly waiting: number;
  /** Registered with the cluster and not ended: queued, offered or running on an agent. */
  readonly inFlight: number;
  /** Registered and waiting for an agent with free capacity. */
  readonly queued: number;
  /** Live agents serving the queue with the agent executor. */
  readonly agents: number;
}

/**
 * Runs tasks on agents (`startAgent`, or the `taskwarden-agent` command) over NATS JetStream: give it
 * to a runtime like any executor. Slots, the cancellation ladder, jobs and events work unchanged:
 * `cancel`, `interrupt`, `kill` and `diagnose` reach the agent running the task.
 *
 * - Invokables are `{ module, export? }`, resolved on the agent's machine. Inputs and results cross
 *   by structured clone; one above the server's maximum payload fails its task with a
 *   `SerializationError`.
 * - A task waits in DEPLOYING while no agent of its queue with its executor has free capacity.
 * - An agent that is lost (killed, paused, partitioned) fails its tasks with `AgentLostError` within
 *   its `leaseMs` plus {@link DETECTION_TICK_MS}, once it has certainly stopped them.
 * - Execution ids are unique across the cluster: a live duplicate from any coordinator fails with
 *   `TaskSubmissionError` (`DUPLICATE_EXECUTION_ID`) before it starts.
 * - The OpenTelemetry trace context active at `launch` (the runtime's span of the task) travels to the
 *   agent, whose own `taskwarden.task <name>` span of the task becomes its child. It is written by the
 *   globally registered propagator (`propagation.inject`): register one on both sides (the
 *   OpenTelemetry NodeSDK registers the W3C one by default). Without one nothing is sent. A context
 *   above 32 entries or 16,384 characters, or not a map of header names to ASCII strings, is not
 *   sent (logged at `warn` once); the task runs without it.
 *
 * Connecting happens on the first `launch` (or `connect()`); tasks wait in DEPLOYING meanwhile.
 *
 * @example
 * ```ts
 * const remote = new NatsClusterExecutor({ servers: 'nats://127.0.0.1:4222', queue: 'default',
 *                                          agentExecutor: 'process', leaseMs: 3_000 });
 * await remote.connect(); // optional: fail fast if the servers are unreachable
 * const runtime = createRuntime({ numberOfSlots: 32, executors: { remote }, defaultExecutor: 'remote' });
 * ```
 */
export class NatsClusterExecutor implements Executor {
  /** `'nats-cluster'`, for logs. */
  readonly name = 'nats-cluster';
  /**
   * `{ hardStop: true, diagnostics: true, isolation: 'host', hardStopMs: leaseMs + DETECTION_TICK_MS }`:
   * a hard stop ends within the agent's own bound when it is reachable, and within the lease plus
   * the detection tick when it is not.
   */
  readonly capabilities: ExecutorCapabilities;
  /** This coordinator's id in the cluster. */
  readonly id: string;

  readonly #servers: string[];
  readonly #queue: string;
  readonly #agentExecutor: string;
  readonly #leaseMs: number;
  readonly #maxInFlight: number;
  readonly #connectTimeoutMs: number;
  readonly #names: ClusterNames;
  readonly #logger: Logger;
  readonly #executions = new Map<string, RemoteExecution>();
  /** Launched before the session was open. */
  readonly #beforeSession: RemoteExecution[] = [];
  readonly #control: RemoteControl;
  #session: CoordinatorSession | undefined;
  #connecting: Promise<void> | undefined;
  /** Nonces are this executor's random prefix and a counter: unique, and cheap per task. */
  readonly #noncePrefix = randomBytes(6).toString('base64url');
  #nonces = 0;
  #closing: Promise<void> | undefined;
  /** A trace context that could not be sent was logged at `warn` (later ones at `debug`). */
  #badTraceWarned = false;

  constructor(options: NatsClusterExecutorOptions) {
    const who = 'NatsClusterExecutor';
    checkKeys(options, OPTION_KEYS, who);
    this.#servers = serversOption(options.servers, who);
    this.#queue = nameOption(options.queue, 'queue', 'default', who);
    this.#agentExecutor = nameOption(options.agentExecutor, 'agentExecutor', 'process', who);
    this.#leaseMs = msOption(options.leaseMs, 'leaseMs', 3_000, 500, who);
    this.#names = new ClusterNames(nameOption(options.cluster, 'cluster', 'taskwarden', who));
    this.#maxInFlight = countOption(
      options.maxInFlight,
      'maxInFlight',
      Number.POSITIVE_INFINITY,
      1,
      who,
      true,
    );
    this.#connectTimeoutMs = msOption(options.connectTimeoutMs, 'connectTimeoutMs', 5_000, 1, who);
    const fallbackId = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`.replace(
      /[^A-Za-z0-9_-]/g,
      '_',
    );
    this.id = nameOption(options.id, 'id', fallbackId.slice(-128), who);
    if (options.logger !== undefined && (typeof options.logger !== 'object' || options.logger === null)) {
      throw new TypeError(`${who}: options.logger must be a pino logger`);
    }
    this.#logger = (options.logger ?? createDefaultLogger()).child({ coordinator: this.id });
    this.capabilities = Object.freeze({
      hardStop: true,
      diagnostics: true,
      isolation: 'host',
      // An agent that cannot be reached has stopped its work by the time its loss is declared.
      hardStopMs: this.#leaseMs + DETECTION_TICK_MS,
    });
    this.#control = {
      cancel: (execution, reason) => {
        if (this.#session) {
          this.#session.cancel(execution, reason);
          return;
        }
        const index = this.#beforeSession.indexOf(execution);
        if (index !== -1) this.#beforeSession.splice(index, 1);
        execution.reject(reason);
      },
      interrupt: (execution) => this.#session?.interrupt(execution),
      kill: async (execution) => this.#session?.kill(execution),
      diagnose: async (execution) => this.#session?.diagnose(execution),
      ended: (execution) => {
        if (this.#executions.get(execution.id) === execution) this.#executions.delete(execution.id);
        this.#session?.ended(execution);
      },
    };
  }

  /** Counts of this coordinator's tasks. */
  get stats(): NatsClusterExecutorStats {
    const session = this.#session?.stats;
    return {
      waiting: this.#beforeSession.length + (session?.waiting ?? 0),
      inFlight: session?.inFlight ?? 0,
      queued: session?.queued ?? 0,
      agents: session?.agents ?? 0,
    };
  }

  /**
   * Connects to the cluster and takes this coordinator's lease; launching does it too. Idempotent.
   *
   * @throws ClusterUnreachableError when no server answers within `connectTimeoutMs`, naming them.
   * @throws UnsupportedServerError when the server is older than 2.9.0 or has no JetStream.
   * @throws ExecutorClosedError after `close()`.
   */
  connect(): Promise<void> {
    if (this.#closing) return Promise.reject(new ExecutorClosedError(this.name));
    this.#connecting ??= this.#open().catch((error: unknown) => {
      this.#connecting = undefined; // the next launch tries again
      for (const execution of this.#beforeSession.splice(0)) execution.reject(error);
      throw error;
    });
    return this.#connecting;
  }

  async #open(): Promise<void> {
    const conn = await connectCluster({
      servers: this.#servers,
      name: `taskwarden-coordinator ${this.id}`,
      names: this.#names,
      connectTimeoutMs: this.#connectTimeoutMs,
      leaseMs: this.#leaseMs,
    });
    let session: CoordinatorSession;
    try {
      session = await CoordinatorSession.open({
        conn,
        names: this.#names,
        coordinatorId: this.id,
        queue: this.#queue,
        agentExecutor: this.#agentExecutor,
        // A coordinator runs no work itself: it needs no time to stop any.
        timing: leaseTiming(this.#leaseMs, 0) ?? { leaseMs: this.#leaseMs, marginMs: 100, renewEveryMs: 100 },
        maxInFlight: this.#maxInFlight,
        logger: this.#logger,
        garbage: new GarbageLog(this.#logger),
        executions: this.#executions,
      });
    } catch (error) {
      await conn.nc.close().catch(() => undefined);
      throw error;
    }
    if (this.#closing) {
      await session.close();
      throw new ExecutorClosedError(this.name);
    }
    this.#session = session;
    for (const execution of this.#beforeSession.splice(0)) session.submit(execution);
  }

  /**
   * Submits a task to the cluster; it waits in DEPLOYING until an agent takes it. The trace context
   * active now (the runtime calls this in its task span's context) goes with the task to the agent.
   *
   * @throws InvalidInvokableError unless the invokable is `{ module, export? }`.
   * @throws SerializationError (`what: 'input'`) when the input cannot be structured-cloned.
   * @throws RangeError when `cancellation.timeoutMs` is below `gracePeriodMs + leaseMs +`
   * {@link DETECTION_TICK_MS}: the watchdog would give up on a task whose agent is only being declared lost.
   * @throws TaskSubmissionError (`DUPLICATE_EXECUTION_ID`) when this coordinator has a live task with that id.
   * @throws ExecutorClosedError after `close()`.
   */
  launch(spec: LaunchSpec): Execution {
    if (this.#closing) throw new ExecutorClosedError(this.name);
    const ref = spec.invokable;
    if (!isModuleReference(ref)) {
      throw new InvalidInvokableError(
        `executor '${this.name}' runs tasks on other machines: the invokable must be { module, export? }`,
      );
    }
    const timings = spec.cancellation;
    const hardStopMs = this.capabilities.hardStopMs as number;
    if (timings.timeoutMs < timings.gracePeriodMs + hardStopMs) {
      throw new RangeError(
        `cancellation.timeoutMs (${timings.timeoutMs} ms) must be at least gracePeriodMs (${timings.gracePeriodMs} ms) + ` +
          `leaseMs (${this.#leaseMs} ms) + ${DETECTION_TICK_MS} ms for a remote task: until then its agent may only be ` +
          'being declared lost, and the watchdog would give up on work that is about to be known stopped',
      );
    }
    const id = spec.task.executionId;
    const existing = this.#executions.get(id);
    if (existing && !existing.ended) {
      throw new TaskSubmissionError(
        ErrorCode.DUPLICATE_EXECUTION_ID,
        `a live task already has execution id ${id}`,
        {
          executionId: id,
        },
      );
    }
    let input: Uint8Array;
    try {
      input = encodeValue(spec.input);
    } catch (error) {
      throw new SerializationError('input', { cause: error });
    }
    // The runtime launches in its task span's context: the agent's span of the task becomes its child.
    let traceContext = captureTraceContext();
    if (typeof traceContext === 'string') {
      this.#badTraceContext(id, traceContext);
      traceContext = undefined;
    }
    const execution = new RemoteExecution(
      spec,
      {
        nonce: `${this.#noncePrefix}.${(this.#nonces++).toString(36)}`,
        input,
        timings: {
          interruptIntervalMs: timings.interruptIntervalMs,
          gracePeriodMs: timings.gracePeriodMs,
          timeoutMs: timings.timeoutMs,
        },
        traceContext,
      },
      this.#control,
    );
    this.#executions.set(id, execution);
    if (this.#session) {
      this.#session.submit(execution);
    } else {
      this.#beforeSession.push(execution);
      this.connect().catch((error: unknown) => {
        this.#logger.error({ err: error }, 'connecting to the cluster failed');
      });
    }
    return execution;
  }

  /** The propagator wrote something that cannot be sent: the task goes without it. */
  #badTraceContext(executionId: string, problem: string): void {
    const message = `the trace context of a task cannot be sent to the agent (${problem}); the task runs without it`;
    if (this.#badTraceWarned) {
      this.#logger.debug({ executionId }, message);
    } else {
      this.#badTraceWarned = true;
      this.#logger.warn({ executionId }, `${message}; further ones are logged at debug`);
    }
  }

  /**
   * Stops taking work, stops this coordinator's remote tasks (the runtime has normally ended them
   * all before), releases its lease (agents stop anything of its that is left) and disconnects.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new ExecutorClosedError(this.name);
      for (const execution of this.#beforeSession.splice(0)) execution.reject(closed);
      await this.#connecting?.catch(() => undefined);
      await this.#session?.close();
    })();
    return this.#closing;
  }
}
