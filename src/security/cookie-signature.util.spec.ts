import { createHmac } from 'node:crypto';
import {
  generateSessionId,
  safeEqual,
  signSessionId,
  verifySessionCookie,
} from './cookie-signature.util.js';

const SECRET = 'k'.repeat(32);
const OLD = 'o'.repeat(32);

describe('cookie signature', () => {
  it('case 1: makes 256-bit base64url ids, all distinct, with balanced bits', () => {
    const ids = Array.from({ length: 100_000 }, generateSessionId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 1000)) expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const bits = Buffer.concat(ids.slice(0, 2000).map((id) => Buffer.from(id, 'base64url')));
    let ones = 0;
    for (const byte of bits) for (let b = 0; b < 8; b++) ones += (byte >> b) & 1;
    expect(ones / (bits.length * 8)).toBeGreaterThan(0.49);
    expect(ones / (bits.length * 8)).toBeLessThan(0.51);
  });

  it('signs as base64url HMAC-SHA256 of the id, verifiable by anyone holding the secret', () => {
    const id = generateSessionId();
    const expected = createHmac('sha256', SECRET).update(id).digest('base64url');
    expect(signSessionId(id, SECRET)).toBe(`${id}.${expected}`);
    expect(verifySessionCookie(signSessionId(id, SECRET), [SECRET])).toEqual({
      id,
      secretIndex: 0,
    });
  });

  it('verifies old secrets and says which one matched', () => {
    const id = generateSessionId();
    expect(verifySessionCookie(signSessionId(id, OLD), [SECRET, OLD])).toEqual({
      id,
      secretIndex: 1,
    });
    expect(verifySessionCookie(signSessionId(id, OLD), [SECRET])).toBeNull();
  });

  it('cases 10-12: rejects unsigned, mis-signed, truncated, padded and appended values', () => {
    const id = generateSessionId();
    const good = signSessionId(id, SECRET);
    for (const bad of [
      id,
      `${id}.`,
      good.slice(0, -1),
      `${good}x`,
      `${good}.sig`,
      `${good}=`,
      `${id}.${'A'.repeat(43)}`,
      `x${good}`,
      '',
      '.',
      `${id}.${createHmac('sha256', SECRET).update(id).digest('base64')}`,
      `a.${signSessionId('a', SECRET).split('.')[1]}`,
    ]) {
      expect(verifySessionCookie(bad, [SECRET])).toBeNull();
    }
  });

  it('case 12: compares tokens of any length in constant time without throwing', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });
});
