import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TaskRuntime } from '@taskwarden/sdk';
import { AgentsReader } from './agents-reader.js';
import { EventHub } from './events/event-hub.js';
import { BearerToken } from './http/bearer-token.js';
import { createRequestHandler } from './http/handle-request.js';
import { loadStaticAssets } from './http/static-assets.js';
import type { Inspector, InspectorStats } from './inspector.js';
import type { InspectorOptions } from './inspector-options.js';
import { type ResolvedInspectorOptions, resolveOptions, urlHost } from './options/resolve-options.js';
import { type AgentsResult, type SnapshotView, snapshotView } from './serialize/views.js';

/** Tokens shorter than this log a warning: the API has no rate limit, so a short one can be guessed. */
const SHORT_TOKEN = 16;

/**
 * Starts the inspector of `runtime`: a live page at `inspector.url` and its JSON API
 * (`GET /api/snapshot`, `GET /api/events`, `POST /api/tasks/:executionId/cancel`,
 * `POST /api/jobs/:jobId/cancel`). Resolves once the server listens; rejects with the system error
 * (`EADDRINUSE`, `EACCES`…) when it cannot. Options are validated first (TypeError or RangeError
 * naming the option).
 *
 * The runtime is only read and, with a token, asked to cancel: closing the inspector leaves it as it
 * was, and closing the runtime first leaves the inspector showing its last state (health `'closed'`).
 *
 * @example
 * ```ts
 * import { startInspector } from '@taskwarden/inspector';
 *
 * const inspector = await startInspector(runtime, { port: 0, token: process.env.INSPECTOR_TOKEN });
 * console.log(`${inspector.url}#token=${process.env.INSPECTOR_TOKEN}`); // the fragment never reaches the server
 * // ...
 * await inspector.close();
 * ```
 */
export async function startInspector(runtime: TaskRuntime, options?: InspectorOptions): Promise<Inspector> {
  const resolved = resolveOptions(runtime, options);
  const assets = await loadStaticAssets();
  const agents =
    resolved.agents === undefined
      ? undefined
      : new AgentsReader(resolved.agents, resolved.agentsTimeoutMs, resolved.logger);
  const mutations = resolved.token === undefined ? 'disabled' : 'token';
  let lastAgents: AgentsResult | undefined;
  const readAgents = () => agents?.read().then((result) => (lastAgents = result));
  const view = (agentsResult: AgentsResult | undefined): SnapshotView =>
    snapshotView(runtime.snapshot(), {
      maxTasks: resolved.maxTasks,
      mutations,
      recent: hub.recent.list(),
      ...(agentsResult === undefined ? {} : { agents: agentsResult }),
    });

  const hub: EventHub = new EventHub(
    runtime,
    resolved,
    () => view(lastAgents),
    readAgents,
    () => lastAgents !== undefined,
  );
  const server = createServer(
    createRequestHandler({
      runtime,
      options: resolved,
      hub,
      assets,
      token: resolved.token === undefined ? undefined : new BearerToken(resolved.token),
      snapshot: async () => view(await readAgents()),
    }),
  );
  // A client gets 10 s to send its headers and 30 s for the whole request (none has a body); an
  // event stream is a response, so neither limit ends it.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  try {
    await listen(server, resolved.host, resolved.port);
  } catch (error) {
    hub.close();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  warnAboutExposure(resolved, port);
  return new RunningInspector(server, hub, resolved.host, port);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function warnAboutExposure(options: ResolvedInspectorOptions, port: number): void {
  const warn = (fields: object, message: string) => {
    try {
      options.logger.warn(fields, message);
    } catch {
      /* a warning that cannot be logged changes nothing */
    }
  };
  if (!options.loopback) {
    warn(
      { host: options.host, port, readOnly: options.token === undefined },
      'inspector: listening on a non-loopback address; anyone who can reach it can read task names, ' +
        'error messages and stacks (reads need no token)' +
        (options.token === undefined
          ? ''
          : '; cancelling needs the token, which travels unencrypted over http'),
    );
  }
  if (options.token !== undefined && options.token.length < SHORT_TOKEN) {
    warn(
      { length: options.token.length },
      `inspector: the token is shorter than ${SHORT_TOKEN} characters and could be guessed`,
    );
  }
}

class RunningInspector implements Inspector {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly #server: Server;
  readonly #hub: EventHub;
  #closing: Promise<void> | undefined;

  constructor(server: Server, hub: EventHub, host: string, port: number) {
    this.#server = server;
    this.#hub = hub;
    this.host = host;
    this.port = port;
    this.url = `http://${urlHost(host)}:${port}/`;
  }

  stats(): InspectorStats {
    return this.#hub.stats();
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#hub.close();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    return this.#closing;
  }
}
