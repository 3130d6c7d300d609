import { createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

const TOKEN_BYTES = 32;

/**
 * A session's CSRF token masked for one response (XOR with a random pad, the pad in front, as
 * Django and Rails do): the page changes on every response, so a BREACH-style compression
 * attack cannot read the token out of it. Any masking of the token verifies.
 * @internal
 */
export function maskToken(token: string): string {
  const raw = Buffer.from(token, 'base64url');
  const pad = randomBytes(raw.length);
  const masked = Buffer.alloc(raw.length);
  for (let i = 0; i < raw.length; i++) masked[i] = raw[i] ^ pad[i];
  return Buffer.concat([pad, masked]).toString('base64url');
}

/** The token a presented value stands for: masked ones are unmasked, plain ones pass. @internal */
export function unmaskToken(presented: string): Buffer {
  const raw = Buffer.from(presented, 'base64url');
  if (raw.length !== TOKEN_BYTES * 2) return raw;
  const token = Buffer.alloc(TOKEN_BYTES);
  for (let i = 0; i < TOKEN_BYTES; i++) token[i] = raw[i] ^ raw[TOKEN_BYTES + i];
  return token;
}

/** Whether a presented (masked or plain) token is the expected one, in constant time. @internal */
export function tokenMatches(presented: string, expected: string): boolean {
  const given = unmaskToken(presented);
  const wanted = Buffer.from(expected, 'base64url');
  return given.length === wanted.length && wanted.length > 0 && timingSafeEqual(given, wanted);
}

/**
 * The CSRF token of an anonymous form, bound to a short-lived nonce cookie instead of a session:
 * a login form can be protected without storing a session for every visitor.
 * @internal
 */
export function anonymousToken(nonce: string, secret: KeyObject): string {
  return createHmac('sha256', secret).update(`anonymous-csrf:${nonce}`).digest('base64url');
}
