import type { Logger } from '@taskwarden/sdk';
import type { AgentDirectory } from './agent-directory.js';

/**
 * Options of {@link startInspector}. Every option is validated up front: a bad value is a
 * `TypeError` or `RangeError` naming the option, and unknown keys are refused (a misspelt `tokn`
 * would otherwise start an inspector without a token).
 */
export interface InspectorOptions {
  /**
   * The address to listen on. A non-loopback address exposes every task name, error message and
   * stack to whoever can reach it (reads need no token): the inspector logs a warning when it binds
   * to one.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * The TCP port; `0` takes any free port (read it from `inspector.url`).
   * @default 0
   */
  port?: number;
  /**
   * The bearer token that allows cancelling tasks and jobs (`Authorization: Bearer <token>`), 1 to
   * 1024 visible ASCII characters (no spaces). Without it the inspector is read-only: the cancel
   * endpoints answer 403. The token is never put in any page the server sends; the page learns it
   * from the URL fragment (`http://host:port/#token=…`, never sent to the server) or from the token
   * field, and keeps it in the tab's `sessionStorage`. Use at least 16 random characters; a shorter
   * token logs a warning.
   * @default none: read-only
   */
  token?: string;
  /**
   * Where to read the agents of a cluster from, shown as an extra table; a `NatsClusterExecutor`
   * is one.
   * @default none: no agents table
   */
  agents?: AgentDirectory;
  /**
   * Host names (without port, case-insensitive) accepted in the `Host` header; other requests get
   * 421. This defeats DNS rebinding: a page on another site whose name is made to resolve to
   * 127.0.0.1 still sends its own name.
   * @default for a loopback `host`: `localhost`, `127.0.0.1`, `[::1]` and `host` itself; otherwise
   * any name
   */
  allowedHosts?: readonly string[];
  /**
   * The most event streams (`GET /api/events`) open at once; one more gets 503.
   * @default 64
   */
  maxStreams?: number;
  /**
   * The most bytes one event stream may have waiting to be sent. A client that reads too slowly to
   * stay under it is disconnected (its page reconnects and starts again from a fresh snapshot), so
   * a stalled client never costs more memory than this (plus one message). Keep it above the size of a
   * snapshot (`GET /api/snapshot`), which every stream starts with.
   * @default 1_048_576 (1 MiB)
   */
  maxQueuedBytes?: number;
  /**
   * How often an idle event stream gets a comment line, so proxies and load balancers keep it open.
   * @default 15_000
   */
  heartbeatMs?: number;
  /**
   * How often an event stream gets a fresh `snapshot` event (health, elapsed times, agents, anything
   * no event announces).
   * @default 5_000
   */
  snapshotIntervalMs?: number;
  /**
   * How often queued events are sent. Progress reports of one task within one interval are
   * coalesced to the last one; more than `maxBatchEvents` events in one interval become one fresh
   * snapshot instead.
   * @default 100
   */
  flushIntervalMs?: number;
  /**
   * The most events sent in one flush before the stream falls back to a fresh snapshot.
   * @default 1_000
   */
  maxBatchEvents?: number;
  /**
   * How many ended tasks (with their final state and error message) the inspector remembers.
   * @default 50
   */
  recentTasks?: number;
  /**
   * The most live tasks listed in one snapshot (oldest first; `tasksOmitted` counts the rest).
   * @default 1_000
   */
  maxTasks?: number;
  /**
   * How long a snapshot waits for `agents.agents()`.
   * @default 2_000
   */
  agentsTimeoutMs?: number;
  /**
   * Where the inspector logs warnings (a non-loopback address, a short token, a failing agents
   * directory).
   * @default pino at level `warn` on stderr (`createDefaultLogger()` of `@taskwarden/sdk`)
   */
  logger?: Logger;
}
