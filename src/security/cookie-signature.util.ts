import { createHash, createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

// An id is base64url of at least 128 bits; the signature is an unpadded base64url HMAC-SHA256 (43 chars).
const SIGNED_VALUE = /^([A-Za-z0-9_-]{22,256})\.([A-Za-z0-9_-]{43})$/;

/** Whether a string can be a session id at all (charset and length), before any signature check. @internal */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22,256}$/;

/**
 * A new session id: 32 bytes from the CSPRNG, base64url (256 bits, 43 characters).
 * @publicApi
 */
export function generateSessionId(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The session cookie's value for an id: `<id>.<signature>`, the signature being base64url (no
 * padding) of HMAC-SHA256(secret, id), so another service holding the secret can verify it and a
 * test can make a cookie (`session=${signSessionId(id, secret)}`).
 * @publicApi
 */
export function signSessionId(id: string, secret: string | KeyObject): string {
  return `${id}.${createHmac('sha256', secret).update(id).digest('base64url')}`;
}

/** Result of verifying a cookie value. @internal */
export interface VerifiedId {
  id: string;
  /** Index of the secret that verified it: 0 is the current one, others are old secrets. */
  secretIndex: number;
}

/**
 * Verifies `<id>.<signature>` against each secret in constant time. Anything malformed, unsigned,
 * mis-signed or with trailing bytes yields `null`: the caller then never looks the id up.
 * @internal
 */
export function verifySessionCookie(
  value: string,
  secrets: readonly (string | KeyObject)[],
): VerifiedId | null {
  const match = SIGNED_VALUE.exec(value);
  if (match === null) return null;
  const [, id, signature] = match;
  const presented = Buffer.from(signature, 'latin1');
  for (let i = 0; i < secrets.length; i++) {
    const expected = Buffer.from(
      createHmac('sha256', secrets[i]).update(id).digest('base64url'),
      'latin1',
    );
    // Both sides are 43 bytes by construction (regex above), so timingSafeEqual never throws.
    if (timingSafeEqual(presented, expected)) return { id, secretIndex: i };
  }
  return null;
}

/** Constant-time equality of two strings of any length (CSRF tokens). @internal */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * A short, salted digest of an id for logs, so a log line never carries a usable session id.
 * @internal
 */
export function idForLog(id: string, salt: string | Buffer): string {
  return createHash('sha256').update(salt).update(id).digest('base64url').slice(0, 12);
}

/** A random token of 32 bytes, base64url (CSRF). @internal */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}
