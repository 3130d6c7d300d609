import { createHmac, type KeyObject } from 'node:crypto';
import { META, fieldOf } from '../session/session-state.js';
import type { LegacyCookieScope } from './legacy-cookie.js';

/**
 * From connect-redis's stored form (one JSON string per session, `{ cookie: {...}, ...data }`) to
 * this library's (one hash field per top-level key, JSON values, `$`-prefixed meta fields).
 */

/** Stored legacy data that is not a session: not JSON, or JSON that is not an object. @publicApi */
export class LegacySessionError extends Error {
  constructor(reason: string) {
    super(`Corrupt legacy session data: ${reason}`);
    this.name = 'LegacySessionError';
  }
}

/** A legacy session, converted. @publicApi */
export interface LegacySession {
  /** Flat `[field, value, …]` of the user data, encoded as this library stores it (no meta fields). */
  fields: string[];
  /** Remaining lifetime in ms: the key's PTTL, else `cookie.expires`; `undefined` when neither says. */
  ttlMs: number | undefined;
  /** Path, Domain and Secure of the legacy cookie, from the stored `cookie` record. */
  cookie: LegacyCookieScope;
}

/** Options of {@link decodeLegacySession}. @publicApi */
export interface DecodeLegacyOptions {
  /** The key's PTTL as Redis gave it: -2 no key, -1 no expiry, else ms left. */
  pttlMs?: number;
  /** The clock, ms. */
  now?: number;
  /** Value encoder; must match the application's serializer. @default JSON.stringify */
  serialize?: (value: unknown) => string;
}

/** Domain separation for derived ids, so a derived id is never another HMAC this library makes. @internal */
export const LEGACY_ID_CONTEXT = 'nestjs-redis-sessions:legacy:';

// Keys that could reach a prototype when a consumer assigns them back onto an object.
const DROPPED_KEYS = new Set(['cookie', '__proto__', 'constructor', 'prototype']);

/**
 * The id the session moved from `legacyId` lives under: base64url(HMAC-SHA256(secret,
 * 'nestjs-redis-sessions:legacy:' + legacyId)), 43 characters. Deterministic, so every request and
 * the bulk mover agree on it (exactly-once moves), and unguessable without the secret.
 * @publicApi
 */
export function deriveSessionId(legacyId: string, secret: string | KeyObject): string {
  return createHmac('sha256', secret)
    .update(LEGACY_ID_CONTEXT + legacyId)
    .digest('base64url');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function cookieScope(cookie: unknown): LegacyCookieScope {
  if (!isRecord(cookie)) return {};
  const scope: LegacyCookieScope = {};
  if (typeof cookie.path === 'string' && cookie.path.startsWith('/')) scope.path = cookie.path;
  if (typeof cookie.domain === 'string' && cookie.domain !== '') scope.domain = cookie.domain;
  if (cookie.secure === true) scope.secure = true;
  return scope;
}

function expiresIn(cookie: unknown, now: number): number | undefined {
  if (
    !isRecord(cookie) ||
    (typeof cookie.expires !== 'string' && typeof cookie.expires !== 'number')
  )
    return undefined;
  const at = new Date(cookie.expires).getTime();
  return Number.isFinite(at) ? at - now : undefined;
}

/**
 * Converts one stored legacy session. Resolves `null` for a session that is over (`pttlMs` -2 or
 * 0, or `cookie.expires` in the past); throws {@link LegacySessionError} for data that is not a
 * session. Every top-level key but `cookie` becomes a field (`passport` stays `passport`, so
 * `passport.user` is where passport looks); `__proto__`, `constructor` and `prototype` are dropped.
 * @publicApi
 */
export function decodeLegacySession(
  text: string,
  { pttlMs, now = Date.now(), serialize = JSON.stringify }: DecodeLegacyOptions = {},
): LegacySession | null {
  if (pttlMs !== undefined && pttlMs !== -1 && pttlMs <= 0) return null;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new LegacySessionError('not JSON');
  }
  if (!isRecord(data)) throw new LegacySessionError('not a JSON object');
  const untilCookieExpires = expiresIn(data.cookie, now);
  if (untilCookieExpires !== undefined && untilCookieExpires <= 0) return null;
  const fields: string[] = [];
  for (const key of Object.keys(data)) {
    if (DROPPED_KEYS.has(key)) continue;
    let value: string;
    try {
      value = serialize(data[key]);
    } catch (error) {
      throw new LegacySessionError(`a value cannot be serialized (${(error as Error).message})`);
    }
    if (typeof value !== 'string')
      throw new LegacySessionError('the serializer returned no string');
    fields.push(fieldOf(key), value);
  }
  const ttlMs = pttlMs !== undefined && pttlMs > 0 ? pttlMs : untilCookieExpires;
  return { fields, ttlMs, cookie: cookieScope(data.cookie) };
}

/**
 * The full field list a new session is created with: the meta fields (`$c` creation time, `$a`
 * absolute deadline when there is one) before the user fields, as the request path writes them.
 * @internal
 */
export function sessionFields(fields: string[], now: number, deadline?: number): string[] {
  const meta = [META.created, String(now)];
  if (deadline !== undefined) meta.push(META.deadline, String(deadline));
  return [...meta, ...fields];
}
