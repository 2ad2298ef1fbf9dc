import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Checks `Authorization: Bearer <token>` in constant time: both sides are hashed first, so neither
 * the token's length nor its first differing character shows in the time taken. @internal
 */
export class BearerToken {
  readonly #digest: Buffer;

  constructor(token: string) {
    this.#digest = digest(token);
  }

  /** Whether the header carries the token (scheme case-insensitive, as RFC 9110 says). */
  matches(authorization: string | undefined): boolean {
    if (authorization === undefined) return false;
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (match === null) return false;
    return timingSafeEqual(digest(match[1] as string), this.#digest);
  }
}
