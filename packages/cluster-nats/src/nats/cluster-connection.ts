/**
 * Connecting to the cluster: one NATS connection with timings suited to leases, a check of the
 * server (minimum 2.9.0, JetStream on), and the two KV buckets. Failing to connect is a
 * {@link ClusterUnreachableError} naming the servers, within `connectTimeoutMs`; never a hang.
 * @internal
 * @module
 */
import { jetstream } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { ClusterUnreachableError, UnsupportedServerError } from '../errors.js';
import type { ClusterNames } from '../protocol/subjects.js';
import { Requester } from './requester.js';

/** The oldest nats-server the cluster runs on: 2.9.0 (Debian bookworm has 2.9.10). */
export const MINIMUM_SERVER_VERSION = '2.9.0';
/**
 * Task records live this long unless rewritten; a coordinator rewrites its live ones well before.
 * The bucket's age limit also removes delete markers, which nothing else would on 2.9.
 * @internal
 */
export const TASK_RECORD_TTL_MS = 120_000;
/** Lease records this long: far above any lease, so only records nobody renews (dead, released) go. @internal */
export const LEASE_RECORD_TTL_MS = 3_600_000;

/** An open connection with the cluster's buckets. @internal */
export interface ClusterConnection {
  readonly nc: NatsConnection;
  readonly tasks: KV;
  readonly leases: KV;
  /** The largest message the server accepts, in bytes. */
  readonly maxPayload: number;
  /** Request/reply for the hot paths (task records, offers, reports). */
  readonly requester: Requester;
}

/** Settings of {@link connectCluster}. @internal */
export interface ConnectSettings {
  readonly servers: readonly string[];
  /** The client's name, shown by the server's monitoring. */
  readonly name: string;
  readonly names: ClusterNames;
  readonly connectTimeoutMs: number;
  /** The shortest lease of this process, which sets the ping interval and the KV timeouts. */
  readonly leaseMs: number;
}

/** Connects, checks the server, opens (or creates) the buckets. @internal */
export async function connectCluster(settings: ConnectSettings): Promise<ClusterConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: [...settings.servers],
      name: settings.name,
      timeout: settings.connectTimeoutMs,
      // A dead connection is noticed within about a lease: the leases decide liveness anyway, but
      // a reconnect should not wait for the default two minutes.
      pingInterval: Math.max(250, Math.floor(settings.leaseMs / 3)),
      maxPingOut: 2,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      waitOnFirstConnect: false,
      // The client would otherwise build an Error (a stack trace) for every request, just in case.
      noAsyncTraces: true,
    });
  } catch (error) {
    throw new ClusterUnreachableError(settings.servers, error);
  }
  try {
    const info = nc.info;
    const version = info?.version ?? 'unknown';
    const jetstreamOn = info?.jetstream === true;
    if (!jetstreamOn || compareVersions(version, MINIMUM_SERVER_VERSION) < 0) {
      throw new UnsupportedServerError({
        server: nc.getServer(),
        version,
        jetstream: jetstreamOn,
        minimum: MINIMUM_SERVER_VERSION,
      });
    }
    // Creates and reads of task records: a loaded server answers late, and a retry only adds load
    // (lease renewals pass timeouts of their own).
    const js = jetstream(nc, { timeout: 5_000 });
    const kvm = new Kvm(js);
    const [tasks, leases] = await Promise.all([
      kvm.create(settings.names.tasksBucket, { history: 1, ttl: TASK_RECORD_TTL_MS }),
      kvm.create(settings.names.leasesBucket, { history: 1, ttl: LEASE_RECORD_TTL_MS }),
    ]);
    return {
      nc,
      tasks,
      leases,
      maxPayload: info?.max_payload ?? 1024 * 1024,
      requester: new Requester(nc),
    };
  } catch (error) {
    await nc.close().catch(() => undefined);
    if (error instanceof UnsupportedServerError) throw error;
    throw new ClusterUnreachableError(settings.servers, error);
  }
}

/** Compares dotted versions numerically ('2.10.1' > '2.9.10'); pre-release suffixes are ignored. @internal */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) =>
    v
      .split(/[.-]/)
      .slice(0, 3)
      .map((part) => Number.parseInt(part, 10) || 0);
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
