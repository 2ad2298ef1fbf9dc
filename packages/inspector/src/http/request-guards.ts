import type { IncomingMessage } from 'node:http';

/** The host name of a `Host` header, without port, lower case (`[::1]` keeps its brackets). @internal */
export function hostName(header: string | undefined): string | undefined {
  if (header === undefined || header.length === 0) return undefined;
  const lower = header.toLowerCase();
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']');
    return end === -1 ? undefined : lower.slice(0, end + 1);
  }
  const colon = lower.indexOf(':');
  return colon === -1 ? lower : lower.slice(0, colon);
}

/** Whether the request names an allowed host (`undefined`: any). @internal */
export function hostAllowed(request: IncomingMessage, allowed: ReadonlySet<string> | undefined): boolean {
  if (allowed === undefined) return true;
  const name = hostName(request.headers.host);
  return name !== undefined && allowed.has(name);
}

/**
 * Whether a mutation comes from another site. A browser sends `Sec-Fetch-Site` (and `Origin` on a
 * POST) with every request; scripts and curl send neither, and are judged by their token alone.
 * No cookie is ever used, so this is defence in depth: a cross-site page cannot set the
 * `Authorization` header without a CORS preflight, which the inspector never grants. @internal
 */
export function crossSite(request: IncomingMessage): boolean {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  // The origin must be this very server as the browser addressed it.
  return origin.toLowerCase() !== `http://${(request.headers.host ?? '').toLowerCase()}`;
}
