import { parse, serialize } from 'cookie';
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * The cookies express-session and @fastify/session set, and how to retire them.
 *
 * express-session sets `s:<id>.<sig>` (cookie-signature); @fastify/session sets `<id>.<sig>`
 * (@fastify/cookie's signer). In both, sig = base64 (standard alphabet, `=` padding removed) of
 * HMAC-SHA256(secret, id): 43 characters. Ids are uid-safe / base64url by default; a custom
 * `genid` may use other characters, so the id check allows a small, cookie-safe set.
 */

/** Characters and length a legacy session id may have; anything else is never looked up. @internal */
export const LEGACY_ID_PATTERN = /^[A-Za-z0-9_~.-]{1,256}$/;

// The id part is greedy and may contain dots: the signature is whatever follows the last one.
const SIGNED_VALUE = /^(?:s:)?([A-Za-z0-9_~.-]{1,256})\.([A-Za-z0-9+/]{43})$/;
/** `s:` + 256 + `.` + 43, URL-encoded at worst three bytes each: longer is never a legacy cookie. */
const MAX_VALUE_LENGTH = 3 * 302;

function decodeOnce(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}

/**
 * The legacy session id a cookie value carries, or `null` when it is malformed, has trailing
 * bytes, or is signed by none of `secrets`. Accepts both forms (`s:<id>.<sig>`, `<id>.<sig>`),
 * URL-decoded (as the `cookie` package gives it) or still encoded (`s%3A…%2B…`). Every secret is
 * tried, with no early exit, so the time taken says nothing about which one matched.
 * @publicApi
 */
export function verifyLegacyCookie(
  value: string,
  secrets: readonly (string | KeyObject)[],
): string | null {
  if (typeof value !== 'string' || value.length > MAX_VALUE_LENGTH) return null;
  // A valid value never contains `%`, so decoding cannot turn something valid into something else.
  const text = value.includes('%') ? decodeOnce(value) : value;
  if (text === null) return null;
  const match = SIGNED_VALUE.exec(text);
  if (match === null) return null;
  const [, id, signature] = match;
  const presented = Buffer.from(signature, 'latin1');
  let matched = false;
  for (const secret of secrets) {
    const expected = Buffer.from(
      createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, ''),
      'latin1',
    );
    // Both are 43 bytes (the regex above, and 32 bytes of base64 without padding).
    if (timingSafeEqual(presented, expected)) matched = true;
  }
  return matched ? id : null;
}

/**
 * The value of the cookie named `cookieName` in a Cookie header, URL-decoded by the `cookie`
 * package (the first one when the name occurs twice, as express-session reads it).
 * @publicApi
 */
export function readLegacyCookie(
  header: string | undefined,
  cookieName: string,
): string | undefined {
  if (header === undefined || header === '') return undefined;
  return parse(header)[cookieName];
}

/** The attributes of the legacy cookie a Set-Cookie must repeat for the browser to drop it. @publicApi */
export interface LegacyCookieScope {
  path?: string;
  domain?: string;
  secure?: boolean;
}

/**
 * A Set-Cookie header that removes the legacy cookie: empty value, `Max-Age=0`, `Expires` in 1970,
 * with the cookie's own Path and Domain (a browser only replaces a cookie of the same name, path
 * and domain). Path defaults to `/`, express-session's and @fastify/session's default. An unusable
 * path or domain (it came from stored data) falls back to the defaults instead of throwing.
 * @publicApi
 */
export function clearLegacyCookie(cookieName: string, scope: LegacyCookieScope = {}): string {
  const attributes = { httpOnly: true, maxAge: 0, expires: new Date(0) };
  try {
    return serialize(cookieName, '', {
      ...attributes,
      path: scope.path ?? '/',
      domain: scope.domain,
      secure: scope.secure === true ? true : undefined,
    });
  } catch {
    return serialize(cookieName, '', { ...attributes, path: '/' });
  }
}
