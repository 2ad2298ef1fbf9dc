/**
 * The `code` of every JSON error the inspector's API answers with, as
 * `{ "error": { "code": "...", "message": "..." } }`.
 */
export const ApiErrorCode = {
  /** 401: a cancel request without `Authorization: Bearer <token>`, or with a wrong token. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** 403: a cancel request to an inspector started without a token (read-only). */
  READ_ONLY: 'READ_ONLY',
  /** 403: a cancel request sent by a page of another site (`Origin` or `Sec-Fetch-Site`). */
  CROSS_SITE: 'CROSS_SITE',
  /** 404: no such route, task or job. */
  NOT_FOUND: 'NOT_FOUND',
  /** 405: the route exists but not for this method (see the `Allow` header). */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** 413: a cancel request with a body (they take none). */
  BODY_NOT_ALLOWED: 'BODY_NOT_ALLOWED',
  /** 421: a `Host` header that is not one of `allowedHosts` (DNS rebinding). */
  HOST_NOT_ALLOWED: 'HOST_NOT_ALLOWED',
  /** 400: a request line the inspector cannot read (a bad percent-escape in an id). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** 503: `maxStreams` event streams are open already. */
  TOO_MANY_STREAMS: 'TOO_MANY_STREAMS',
  /** 500: reading the runtime failed. */
  INTERNAL: 'INTERNAL',
} as const;

/** One of {@link ApiErrorCode}'s values. */
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];
