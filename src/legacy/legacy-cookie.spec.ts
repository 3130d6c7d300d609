import fastifyCookie from '@fastify/cookie';
import { serialize } from 'cookie';
import { createRequire } from 'node:module';
import { clearLegacyCookie, readLegacyCookie, verifyLegacyCookie } from './legacy-cookie.js';

// cookie-signature has no type declarations; it is express-session's own signer.
const signature = createRequire(import.meta.url)('cookie-signature') as {
  sign(value: string, secret: string): string;
};

const SECRET = 'legacy-secret-legacy-secret-0123456789';
const OLD = 'older-legacy-secret-older-legacy-secret';
// uid-safe(24), as express-session and @fastify/session make them.
const ID = 'kS7pWqX3v_1nY-0aBcDeFgHiJkLmNoPq';

/** What express-session puts in the cookie, before `cookie.serialize` encodes it. */
const express = (id: string, secret = SECRET) => `s:${signature.sign(id, secret)}`;
/** What @fastify/session puts in the cookie (@fastify/cookie's signer, no prefix). */
const fastify = (id: string, secret = SECRET) => fastifyCookie.sign(id, secret);

describe('verifyLegacyCookie', () => {
  it("accepts express-session's s:<id>.<sig>, decoded or still URL-encoded", () => {
    const value = express(ID);
    expect(verifyLegacyCookie(value, [SECRET])).toBe(ID);
    const encoded = serialize('connect.sid', value).split('=')[1];
    expect(encoded.startsWith('s%3A')).toBe(true);
    expect(verifyLegacyCookie(encoded, [SECRET])).toBe(ID);
  });

  it("accepts @fastify/session's <id>.<sig>", () => {
    expect(verifyLegacyCookie(fastify(ID), [SECRET])).toBe(ID);
  });

  it('makes the same signature as both signers: base64, no padding, 43 characters', () => {
    const sig = fastify(ID).slice(ID.length + 1);
    expect(sig).toHaveLength(43);
    expect(sig).not.toContain('=');
    expect(express(ID)).toBe(`s:${fastify(ID)}`);
  });

  it('accepts signatures with + and /, which only the standard base64 alphabet has', () => {
    // Find ids whose signature holds the characters base64url would have replaced.
    const ids = Array.from({ length: 200 }, (_, i) => `${ID.slice(0, 28)}${i}`);
    const tricky = ids.find((id) => /[+/]/.test(fastify(id)))!;
    expect(verifyLegacyCookie(fastify(tricky), [SECRET])).toBe(tricky);
    expect(verifyLegacyCookie(encodeURIComponent(express(tricky)), [SECRET])).toBe(tricky);
  });

  it('verifies against every secret (old ones too), and refuses an unknown one', () => {
    expect(verifyLegacyCookie(express(ID, OLD), [SECRET, OLD])).toBe(ID);
    expect(verifyLegacyCookie(fastify(ID, OLD), [OLD, SECRET])).toBe(ID);
    expect(verifyLegacyCookie(express(ID, 'x'.repeat(40)), [SECRET, OLD])).toBeNull();
    expect(verifyLegacyCookie(express(ID), [])).toBeNull();
  });

  it('tries every secret even after a match (no early exit)', () => {
    // A secret createHmac refuses, after the matching one: reaching it proves the loop goes on.
    const unusable = 42 as unknown as string;
    expect(() => verifyLegacyCookie(express(ID), [SECRET, unusable])).toThrow(/"key" argument/);
  });

  it('refuses tampering, trailing garbage, odd characters and overlong ids', () => {
    const value = express(ID);
    expect(verifyLegacyCookie(`${value}x`, [SECRET])).toBeNull();
    expect(verifyLegacyCookie(`${value}=`, [SECRET])).toBeNull();
    expect(verifyLegacyCookie(`${value}; Path=/`, [SECRET])).toBeNull();
    expect(verifyLegacyCookie(`x${value}`, [SECRET])).toBeNull();
    expect(verifyLegacyCookie(value.replace(ID, ID.replace('k', 'K')), [SECRET])).toBeNull();
    expect(verifyLegacyCookie(ID, [SECRET])).toBeNull();
    expect(verifyLegacyCookie('s:', [SECRET])).toBeNull();
    expect(verifyLegacyCookie('', [SECRET])).toBeNull();
    expect(verifyLegacyCookie('%E0%A4%A', [SECRET])).toBeNull();
    for (const id of ['a b', 'a\u00e9', 'a;b', 'a"b', 'a/b', 'a%b']) {
      expect(verifyLegacyCookie(express(id), [SECRET])).toBeNull();
    }
    expect(verifyLegacyCookie(express('a'.repeat(256)), [SECRET])).toBe('a'.repeat(256));
    expect(verifyLegacyCookie(express('a'.repeat(257)), [SECRET])).toBeNull();
    expect(verifyLegacyCookie('x'.repeat(10_000), [SECRET])).toBeNull();
  });

  it('accepts the ids custom genid functions make (uuid, dotted)', () => {
    for (const id of ['2b1f0a4e-9c55-4d1b-8a77-0c3f5c2d9e11', 'node1.abc', 'a~b']) {
      expect(verifyLegacyCookie(express(id), [SECRET])).toBe(id);
      expect(verifyLegacyCookie(fastify(id), [SECRET])).toBe(id);
    }
  });
});

describe('readLegacyCookie', () => {
  it('finds the cookie by name, URL-decoded, among others', () => {
    const header = `a=1; connect.sid=${encodeURIComponent(express(ID))}; b=2`;
    expect(readLegacyCookie(header, 'connect.sid')).toBe(express(ID));
    expect(readLegacyCookie(header, 'sessionId')).toBeUndefined();
    expect(readLegacyCookie(undefined, 'connect.sid')).toBeUndefined();
    expect(readLegacyCookie('', 'connect.sid')).toBeUndefined();
  });
});

describe('clearLegacyCookie', () => {
  it('expires the cookie on Path=/ by default', () => {
    expect(clearLegacyCookie('connect.sid')).toBe(
      'connect.sid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly',
    );
  });

  it("repeats the legacy cookie's path, domain and Secure", () => {
    const header = clearLegacyCookie('sessionId', {
      path: '/app',
      domain: 'example.com',
      secure: true,
    });
    expect(header).toContain('Path=/app');
    expect(header).toContain('Domain=example.com');
    expect(header).toContain('Secure');
    expect(header).toContain('Max-Age=0');
  });

  it('falls back to the defaults when the stored path or domain is unusable', () => {
    expect(clearLegacyCookie('sid', { path: '/a;b', domain: 'bad domain' })).toBe(
      'sid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly',
    );
  });
});
