import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TaskRuntime } from '@taskwarden/sdk';
import { ApiErrorCode } from '../api-error-code.js';
import type { EventHub } from '../events/event-hub.js';
import type { ResolvedInspectorOptions } from '../options/resolve-options.js';
import { TEXT_LIMITS } from '../serialize/limits.js';
import { safeText } from '../serialize/safe-json.js';
import type { SnapshotView } from '../serialize/views.js';
import type { BearerToken } from './bearer-token.js';
import { crossSite, hostAllowed } from './request-guards.js';
import { sendError, sendJson, setSecurityHeaders } from './responses.js';
import type { StaticAsset } from './static-assets.js';

/** What the request handler works with. @internal */
export interface HandlerContext {
  readonly runtime: TaskRuntime;
  readonly options: ResolvedInspectorOptions;
  readonly hub: EventHub;
  readonly assets: ReadonlyMap<string, StaticAsset>;
  readonly token: BearerToken | undefined;
  /** A snapshot with freshly read agents (for `GET /api/snapshot`). */
  readonly snapshot: () => Promise<SnapshotView>;
}

const READ_METHODS = 'GET, HEAD';

/** The inspector's whole HTTP surface: the page, the snapshot, the event stream, two cancel routes. @internal */
export function createRequestHandler(context: HandlerContext) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    try {
      handle(context, request, response);
    } catch (error) {
      fail(context, response, error);
    }
  };
}

function fail(context: HandlerContext, response: ServerResponse, error: unknown): void {
  try {
    context.options.logger.error({ err: error }, 'inspector: a request failed');
  } catch {
    /* a logger that throws must not take the server down */
  }
  if (!response.headersSent) {
    sendError(response, 500, ApiErrorCode.INTERNAL, 'the inspector could not read the runtime');
  } else {
    response.destroy();
  }
}

function handle(context: HandlerContext, request: IncomingMessage, response: ServerResponse): void {
  setSecurityHeaders(response);
  if (!hostAllowed(request, context.options.allowedHosts)) {
    sendError(response, 421, ApiErrorCode.HOST_NOT_ALLOWED, 'this Host is not served here');
    return;
  }
  const target = request.url ?? '';
  if (!target.startsWith('/')) {
    sendError(response, 400, ApiErrorCode.BAD_REQUEST, 'the request target must be a path');
    return;
  }
  const path = target.split('?', 1)[0] as string;
  const method = request.method ?? 'GET';

  const asset = context.assets.get(path);
  if (asset !== undefined) {
    if (!allow(response, method, READ_METHODS)) return;
    response.writeHead(200, {
      'Content-Type': asset.contentType,
      'Content-Length': asset.body.length,
      'Cache-Control': 'no-cache',
    });
    response.end(asset.body);
    return;
  }
  if (path === '/api/snapshot') {
    if (!allow(response, method, READ_METHODS)) return;
    context.snapshot().then(
      (view) => sendJson(response, 200, view),
      (error: unknown) => fail(context, response, error),
    );
    return;
  }
  if (path === '/api/events') {
    if (!allow(response, method, 'GET')) return;
    openEventStream(context, request, response);
    return;
  }
  const cancel = /^\/api\/(tasks|jobs)\/([^/]+)\/cancel$/.exec(path);
  if (cancel !== null) {
    if (!allow(response, method, 'POST')) return;
    let id: string;
    try {
      id = decodeURIComponent(cancel[2] as string);
    } catch {
      sendError(response, 400, ApiErrorCode.BAD_REQUEST, 'the id is not a valid percent-encoded string');
      return;
    }
    if (!authorize(context, request, response)) return;
    if (cancel[1] === 'tasks') cancelTask(context, request, response, id);
    else cancelJob(context, request, response, id);
    return;
  }
  sendError(response, 404, ApiErrorCode.NOT_FOUND, 'no such route');
}

/** Answers 405 (with `Allow`) unless `method` is one of `allowed`. */
function allow(response: ServerResponse, method: string, allowed: string): boolean {
  if (allowed.split(', ').includes(method)) return true;
  sendError(response, 405, ApiErrorCode.METHOD_NOT_ALLOWED, `use ${allowed}`, { Allow: allowed });
  return false;
}

/** The checks every mutation passes, in order: same site, an inspector with a token, the right token, no body. */
function authorize(context: HandlerContext, request: IncomingMessage, response: ServerResponse): boolean {
  if (crossSite(request)) {
    sendError(response, 403, ApiErrorCode.CROSS_SITE, 'cancel requests from other sites are refused');
    return false;
  }
  if (context.token === undefined) {
    sendError(
      response,
      403,
      ApiErrorCode.READ_ONLY,
      'this inspector is read-only: it was started without a token',
    );
    return false;
  }
  if (!context.token.matches(request.headers.authorization)) {
    sendError(
      response,
      401,
      ApiErrorCode.UNAUTHORIZED,
      'a valid "Authorization: Bearer <token>" is required',
      {
        'WWW-Authenticate': 'Bearer realm="taskwarden-inspector"',
      },
    );
    return false;
  }
  const length = request.headers['content-length'];
  if ((length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined) {
    // Not read: the connection is closed after the answer instead.
    sendError(response, 413, ApiErrorCode.BODY_NOT_ALLOWED, 'cancel requests take no body', {
      Connection: 'close',
    });
    return false;
  }
  return true;
}

function audit(context: HandlerContext, request: IncomingMessage, fields: object, message: string): void {
  try {
    context.options.logger.info({ ...fields, remoteAddress: request.socket.remoteAddress }, message);
  } catch {
    /* auditing must not fail the request */
  }
}

function cancelTask(
  context: HandlerContext,
  request: IncomingMessage,
  response: ServerResponse,
  id: string,
): void {
  const task = context.runtime.getTask(id);
  if (task === undefined) {
    sendError(response, 404, ApiErrorCode.NOT_FOUND, 'no live task with this execution id');
    return;
  }
  task.cancel();
  audit(context, request, { executionId: task.executionId }, 'inspector: task cancel requested');
  sendJson(response, 202, {
    executionId: safeText(task.executionId, TEXT_LIMITS.name),
    state: task.state,
    cancellationRequested: task.cancellationRequested,
  });
}

function cancelJob(
  context: HandlerContext,
  request: IncomingMessage,
  response: ServerResponse,
  jobId: string,
): void {
  const snapshot = context.runtime.snapshot();
  const known =
    snapshot.jobs.some((job) => job.jobId === jobId) || snapshot.slots.some((slot) => slot.jobId === jobId);
  if (!known) {
    sendError(response, 404, ApiErrorCode.NOT_FOUND, 'no job with this id has live tasks or slots');
    return;
  }
  // The cancellation resolves once every task of the job has ended, which may take the whole ladder:
  // the request does not wait for it; the page follows it through the event stream.
  context.runtime.cancelJob(jobId).catch((error: unknown) => {
    try {
      context.options.logger.warn({ err: error, jobId }, 'inspector: cancelling a job failed');
    } catch {
      /* nothing more to do */
    }
  });
  audit(context, request, { jobId }, 'inspector: job cancel requested');
  sendJson(response, 202, { jobId: safeText(jobId, TEXT_LIMITS.name), state: 'CANCELING' });
}

function openEventStream(context: HandlerContext, request: IncomingMessage, response: ServerResponse): void {
  if (!context.hub.admit()) {
    sendError(
      response,
      503,
      ApiErrorCode.TOO_MANY_STREAMS,
      `${context.options.maxStreams} event streams are open already`,
      { 'Retry-After': '5' },
    );
    return;
  }
  request.socket.setNoDelay(true);
  request.socket.setKeepAlive(true);
  response.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    // Asks buffering proxies (nginx) to pass events through at once.
    'X-Accel-Buffering': 'no',
  });
  context.hub.open(response);
}
