/**
 * The coordinator's side of the tasks bucket: registering a task (the cluster-wide duplicate check),
 * recording cancel and kill requests durably, rewriting live records before their age limit, and
 * answering other coordinators that ask whether an id is still live here.
 *
 * Registering is `create` on the task's key. If the key exists, the record says who holds it: this
 * coordinator's own earlier create (a timed-out request that did land), a finished task of ours or
 * of a coordinator that says the id is no longer live, or of one whose lease is gone, is taken over
 * by compare-and-set on its revision; a live one makes the submission a duplicate.
 * @internal
 * @module
 */
import type { Subscription } from '@nats-io/transport-node';
import type { Logger } from '@taskwarden/sdk';
import { toError } from '@taskwarden/sdk';
import { parseLeaseRecord } from '../lease/lease-record.js';
import { isNoResponders, isWrongRevision } from '../nats/cas-errors.js';
import type { ClusterConnection } from '../nats/cluster-connection.js';
import { TASK_RECORD_TTL_MS } from '../nats/cluster-connection.js';
import { createRecord } from '../nats/record-create.js';
import { decode, encode } from '../protocol/codec.js';
import type { GarbageLog } from '../protocol/garbage-log.js';
import type { LiveQuery, LiveReply } from '../protocol/messages.js';
import type { ClusterNames } from '../protocol/subjects.js';
import { coordinatorLeaseKey, taskKey } from '../protocol/subjects.js';
import { isLiveQuery, isLiveReply } from '../protocol/validate.js';
import type { RemoteExecution } from './remote-execution.js';
import type { TaskRecord } from './task-record.js';
import { encodeTaskRecord, parseTaskRecord } from './task-record.js';

/** How a registration ended. @internal */
export type Registration =
  | { readonly kind: 'registered'; readonly revision: number }
  | { readonly kind: 'duplicate'; readonly owner: string }
  | { readonly kind: 'abandoned' };

/** What a {@link TaskRegistry} needs. @internal */
export interface TaskRegistryOptions {
  readonly conn: ClusterConnection;
  readonly names: ClusterNames;
  readonly coordinatorId: string;
  readonly queue: string;
  readonly logger: Logger;
  readonly garbage: GarbageLog;
  /** Whether this coordinator has a live task with this id, submitted with this nonce. */
  readonly isLive: (id: string, nonce: string) => boolean;
  /** Every live task with a record, to rewrite before the records' age limit. */
  readonly registered: () => Iterable<RemoteExecution>;
}

const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 1_000;
const LIVE_QUERY_TIMEOUT_MS = 1_000;
/** A loaded server answers late, and a retry only adds load (as the buckets' other requests). */
const RECORD_TIMEOUT_MS = 5_000;
/** Registrations in flight at once: more would only queue up in the server and time out. */
const REGISTER_WINDOW = 256;
/** Records are rewritten this often, well within their age limit. */
const REFRESH_EVERY_MS = Math.floor(TASK_RECORD_TTL_MS / 3);

/** The tasks bucket, from one coordinator. @internal */
export class TaskRegistry {
  readonly #options: TaskRegistryOptions;
  #liveSubscription: Subscription | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #registering = 0;
  readonly #windowWaiters: Array<() => void> = [];

  constructor(options: TaskRegistryOptions) {
    this.#options = options;
  }

  start(): void {
    const { conn, names, coordinatorId } = this.#options;
    this.#liveSubscription = conn.nc.subscribe(names.coordinatorLive(coordinatorId), {
      callback: (error, msg) => {
        if (error) return;
        const query = decode(msg.data);
        if (!isLiveQuery(query)) {
          this.#options.garbage.report(msg.subject, 'not a live query');
          return;
        }
        const reply: LiveReply = {
          t: 'live',
          live: query.tasks.map(([id, nonce]) => this.#options.isLive(id, nonce)),
        };
        msg.respond(encode(reply));
      },
    });
    this.#refreshTimer = setInterval(() => void this.#refresh(), REFRESH_EVERY_MS);
    this.#refreshTimer.unref();
  }

  stop(): void {
    this.#stopped = true;
    for (const wake of this.#windowWaiters.splice(0)) wake();
    this.#liveSubscription?.unsubscribe();
    clearInterval(this.#refreshTimer);
  }

  /**
   * Creates the task's record; resolves with its revision, or with the coordinator holding a live
   * task of that id. Errors of the server are retried until `abandon()` says the task no longer
   * needs it (it was cancelled, the coordinator is closing).
   */
  async register(execution: RemoteExecution, abandon: () => boolean): Promise<Registration> {
    if (this.#registering >= REGISTER_WINDOW) {
      await new Promise<void>((resolve) => this.#windowWaiters.push(resolve));
    }
    this.#registering++;
    try {
      return await this.#register(execution, abandon);
    } finally {
      this.#registering--;
      this.#windowWaiters.shift()?.();
    }
  }

  async #register(execution: RemoteExecution, abandon: () => boolean): Promise<Registration> {
    const { conn } = this.#options;
    const { tasksBucket } = this.#options.names;
    const key = taskKey(execution.id);
    const value = encodeTaskRecord(this.#record(execution));
    let delay = RETRY_FIRST_MS;
    while (!this.#stopped && !abandon()) {
      try {
        const created = await createRecord(conn.requester, tasksBucket, key, value, RECORD_TIMEOUT_MS);
        if (created.created) return { kind: 'registered', revision: created.revision };
        const entry = await conn.tasks.get(key);
        if (!entry) continue; // expired meanwhile
        if (entry.operation !== 'PUT') {
          // A delete marker: the id is free; take it by compare-and-set on the marker.
          try {
            return { kind: 'registered', revision: await conn.tasks.update(key, value, entry.revision) };
          } catch (error) {
            if (!isWrongRevision(error)) throw error;
          }
          continue;
        }
        const existing = parseTaskRecord(entry.value);
        if (existing?.coordinator === this.#options.coordinatorId && existing.nonce === execution.nonce) {
          return { kind: 'registered', revision: entry.revision }; // our own create, which timed out
        }
        if (existing && (await this.#holderStillLive(existing, execution.id))) {
          return { kind: 'duplicate', owner: existing.coordinator };
        }
        try {
          return { kind: 'registered', revision: await conn.tasks.update(key, value, entry.revision) };
        } catch (error) {
          if (!isWrongRevision(error)) throw error;
        }
      } catch (error) {
        this.#options.logger.debug(
          { err: toError(error), executionId: execution.id },
          'registering failed; retrying',
        );
        await sleep(delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
    return { kind: 'abandoned' };
  }

  /**
   * Records a cancel (and a kill) in the task's record, retried until it lands or the task ends, so
   * an agent that missed the request finds it when it is connected again.
   */
  markStopRequested(execution: RemoteExecution): void {
    void this.#markStopRequested(execution);
  }

  async #markStopRequested(execution: RemoteExecution): Promise<void> {
    const { conn } = this.#options;
    const key = taskKey(execution.id);
    let delay = RETRY_FIRST_MS;
    while (!this.#stopped && !execution.ended) {
      const record = this.#record(execution);
      try {
        execution.recordRevision = await conn.tasks.update(
          key,
          encodeTaskRecord(record),
          execution.recordRevision,
        );
        return;
      } catch (error) {
        if (isWrongRevision(error)) {
          try {
            const entry = await conn.tasks.get(key);
            const current = entry?.operation === 'PUT' ? parseTaskRecord(entry.value) : undefined;
            if (!entry || current?.nonce !== execution.nonce) return; // no longer ours
            execution.recordRevision = entry.revision;
            continue;
          } catch {
            /* retried below */
          }
        }
        await sleep(delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  #record(execution: RemoteExecution): TaskRecord {
    return {
      v: 1,
      coordinator: this.#options.coordinatorId,
      nonce: execution.nonce,
      queue: this.#options.queue,
      name: execution.spec.task.name,
      ...(execution.cancelRequested ? { cancel: true } : {}),
      ...(execution.killRequested ? { kill: true } : {}),
    };
  }

  /**
   * Whether the coordinator named in a record still has a live task with that id: it is asked; if it
   * cannot be reached, its lease decides (gone: not live); while its lease holds, it is asked again.
   */
  async #holderStillLive(record: TaskRecord, id: string): Promise<boolean> {
    const { conn, names, coordinatorId } = this.#options;
    if (record.coordinator === coordinatorId) return this.#options.isLive(id, record.nonce);
    let delay = RETRY_FIRST_MS;
    for (;;) {
      if (this.#stopped) return true;
      const lease = await conn.leases.get(coordinatorLeaseKey(record.coordinator));
      const holder = lease?.operation === 'PUT' ? parseLeaseRecord(lease.value) : undefined;
      if (holder?.state !== 'live') return false;
      try {
        const query: LiveQuery = { t: 'live?', tasks: [[id, record.nonce]] };
        const reply = decode(
          (
            await conn.nc.request(names.coordinatorLive(record.coordinator), encode(query), {
              timeout: LIVE_QUERY_TIMEOUT_MS,
            })
          ).data,
        );
        if (isLiveReply(reply) && reply.live.length === 1) return reply.live[0] === true;
        this.#options.garbage.report(names.coordinatorLive(record.coordinator), 'not a live reply');
      } catch (error) {
        if (!isNoResponders(error)) {
          this.#options.logger.debug({ err: toError(error) }, 'asking another coordinator failed; retrying');
        }
      }
      // Unreachable while its lease holds: ask again until it answers or its lease is gone.
      await sleep(delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  async #refresh(): Promise<void> {
    const { conn } = this.#options;
    for (const execution of this.#options.registered()) {
      if (this.#stopped) return;
      if (execution.ended || execution.recordRevision === 0) continue;
      try {
        execution.recordRevision = await conn.tasks.update(
          taskKey(execution.id),
          encodeTaskRecord(this.#record(execution)),
          execution.recordRevision,
        );
      } catch (error) {
        this.#options.logger.debug(
          { err: toError(error), executionId: execution.id },
          'rewriting a task record failed',
        );
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
