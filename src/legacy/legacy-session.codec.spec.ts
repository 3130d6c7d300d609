import { createHmac, createSecretKey } from 'node:crypto';
import { SESSION_ID_PATTERN } from '../security/cookie-signature.util.js';
import {
  LegacySessionError,
  decodeLegacySession,
  deriveSessionId,
  sessionFields,
} from './legacy-session.codec.js';

const NOW = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

/** A session as express-session + connect-redis store it. */
function stored(data: Record<string, unknown>, expires: number | null = NOW + HOUR): string {
  const cookie = {
    originalMaxAge: expires === null ? null : HOUR,
    expires: expires === null ? null : new Date(expires).toISOString(),
    httpOnly: true,
    path: '/',
  };
  return JSON.stringify({ cookie, ...data });
}

const asRecord = (fields: string[]) =>
  Object.fromEntries(
    Array.from({ length: fields.length / 2 }, (_, i) => fields.slice(2 * i, 2 * i + 2)),
  );

describe('decodeLegacySession', () => {
  it('makes one field per top-level key but cookie, values as JSON; passport stays passport', () => {
    const text = stored({ passport: { user: 'alice' }, cart: { items: ['a', 'b'] }, n: 3, s: 'x' });
    const legacy = decodeLegacySession(text, { now: NOW })!;
    expect(asRecord(legacy.fields)).toEqual({
      passport: '{"user":"alice"}',
      cart: '{"items":["a","b"]}',
      n: '3',
      s: '"x"',
    });
    expect(legacy.cookie).toEqual({ path: '/' });
  });

  it('escapes keys starting with $ as the library does, so they never pass for meta fields', () => {
    const legacy = decodeLegacySession(stored({ $c: 1, $$x: 2, a$: 3 }), { now: NOW })!;
    expect(asRecord(legacy.fields)).toEqual({ $$c: '1', $$$x: '2', a$: '3' });
  });

  it('drops __proto__, constructor and prototype', () => {
    const text = '{"cookie":{},"__proto__":{"admin":true},"constructor":1,"prototype":2,"ok":true}';
    const legacy = decodeLegacySession(text, { now: NOW })!;
    expect(legacy.fields).toEqual(['ok', 'true']);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('takes the TTL from PTTL when given, else from cookie.expires, else leaves it open', () => {
    const text = stored({ a: 1 }, NOW + HOUR);
    expect(decodeLegacySession(text, { now: NOW, pttlMs: 5000 })!.ttlMs).toBe(5000);
    expect(decodeLegacySession(text, { now: NOW })!.ttlMs).toBe(HOUR);
    expect(decodeLegacySession(text, { now: NOW, pttlMs: -1 })!.ttlMs).toBe(HOUR);
    expect(decodeLegacySession(stored({ a: 1 }, null), { now: NOW, pttlMs: -1 })!.ttlMs).toBe(
      undefined,
    );
  });

  it('says "no session" for an expired one: cookie.expires past, PTTL -2 or 0', () => {
    expect(decodeLegacySession(stored({ a: 1 }, NOW - 1), { now: NOW })).toBeNull();
    expect(decodeLegacySession(stored({ a: 1 }, NOW - 1), { now: NOW, pttlMs: 9000 })).toBeNull();
    expect(decodeLegacySession(stored({ a: 1 }), { now: NOW, pttlMs: -2 })).toBeNull();
    expect(decodeLegacySession(stored({ a: 1 }), { now: NOW, pttlMs: 0 })).toBeNull();
  });

  it('keeps path, domain and Secure of the legacy cookie, ignoring odd values', () => {
    const text = JSON.stringify({
      cookie: { path: '/app', domain: 'example.com', secure: true, sameSite: 'lax' },
      a: 1,
    });
    expect(decodeLegacySession(text, { now: NOW })!.cookie).toEqual({
      path: '/app',
      domain: 'example.com',
      secure: true,
    });
    const odd = JSON.stringify({ cookie: { path: 'app', domain: 7, secure: 'yes' }, a: 1 });
    expect(decodeLegacySession(odd, { now: NOW })!.cookie).toEqual({});
    expect(decodeLegacySession('{"a":1}', { now: NOW })!.cookie).toEqual({});
  });

  it('throws LegacySessionError on data that is not a session, quoting none of it', () => {
    for (const text of ['', 'not json {', '[1,2]', 'null', '42', '"s"']) {
      expect(() => decodeLegacySession(text, { now: NOW })).toThrow(LegacySessionError);
    }
    try {
      decodeLegacySession('{"secret": "hunter2"', { now: NOW });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('uses the serializer given, and wraps its failure', () => {
    const legacy = decodeLegacySession(stored({ a: 1 }), { now: NOW, serialize: (v) => `<${v}>` })!;
    expect(legacy.fields).toEqual(['a', '<1>']);
    const failing = () => {
      throw new Error('no');
    };
    expect(() => decodeLegacySession(stored({ a: 1 }), { now: NOW, serialize: failing })).toThrow(
      LegacySessionError,
    );
  });

  it('gives no fields for a session holding nothing but its cookie', () => {
    expect(decodeLegacySession(stored({}), { now: NOW })!.fields).toEqual([]);
  });
});

describe('deriveSessionId', () => {
  const secret = 'our-secret-our-secret-our-secret-0123';

  it('is base64url(HMAC-SHA256(secret, "nestjs-redis-sessions:legacy:" + id)), a valid id', () => {
    const id = deriveSessionId('abc', secret);
    const expected = createHmac('sha256', secret)
      .update('nestjs-redis-sessions:legacy:abc')
      .digest('base64url');
    expect(id).toBe(expected);
    expect(id).toHaveLength(43);
    expect(SESSION_ID_PATTERN.test(id)).toBe(true);
  });

  it('is deterministic, the same for a string and a KeyObject, and never the legacy id', () => {
    const key = createSecretKey(Buffer.from(secret));
    expect(deriveSessionId('abc', key)).toBe(deriveSessionId('abc', secret));
    expect(deriveSessionId('abc', secret)).not.toBe(deriveSessionId('abd', secret));
    expect(deriveSessionId('abc', secret)).not.toBe(deriveSessionId('abc', `${secret}x`));
  });
});

describe('sessionFields', () => {
  it('puts the creation time, and the deadline when there is one, before the data', () => {
    expect(sessionFields(['a', '1'], NOW)).toEqual(['$c', String(NOW), 'a', '1']);
    expect(sessionFields(['a', '1'], NOW, NOW + 5)).toEqual([
      '$c',
      String(NOW),
      '$a',
      String(NOW + 5),
      'a',
      '1',
    ]);
  });
});
