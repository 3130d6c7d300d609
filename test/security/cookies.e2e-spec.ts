import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { RedisSessionModule, signSessionId } from '../../src/index.js';
import {
  ADAPTERS,
  OLD_SECRET,
  SECRET,
  cookieOf,
  idOf,
  setCookies,
  signedCookie,
} from '../utils/app.js';
import { capturedLogs } from '../utils/quiet-logs.js';
import { monitor } from '../utils/redis-server.js';
import { sessionBed, type SessionBed } from '../utils/sessions.js';

/** Cases A (cookie and session id) and B (tampering and bad input) of SECURITY-CASES.md. */
describe.each(ADAPTERS)('cookie and id security on %s', (adapter) => {
  let bed: SessionBed;

  beforeAll(async () => {
    bed = await sessionBed(adapter, { maxSize: 2 * 1024 * 1024 }, { trustProxy: true });
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('case 2: one Set-Cookie with HttpOnly, SameSite=Lax, Path=/, no Domain, and Secure over HTTPS', async () => {
    const plain = setCookies(await bed.http().get('/write').expect(200));
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(/; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(plain[0]).not.toMatch(/Domain|Secure/);
    const https = setCookies(
      await bed.http().get('/write').set('X-Forwarded-Proto', 'https').expect(200),
    );
    expect(https[0]).toMatch(/; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
  });

  it('case 5: cookie_secure=true sends Secure even on plain HTTP; auto ignores X-Forwarded-Proto from an untrusted proxy', async () => {
    const always = await sessionBed(adapter, { cookie: { secure: true } }, { redis: bed.redis });
    const untrusted = await sessionBed(adapter, {}, { redis: bed.redis });
    try {
      expect(setCookies(await always.http().get('/write'))[0]).toMatch(/; Secure;/);
      const res = await untrusted.http().get('/write').set('X-Forwarded-Proto', 'https');
      expect(setCookies(res)[0]).not.toMatch(/Secure/);
    } finally {
      await always.app.close();
      await untrusted.app.close();
    }
  });

  it('case 4: a browser-session cookie by default (no Max-Age, no Expires)', async () => {
    const [header] = setCookies(await bed.http().get('/write'));
    expect(header).not.toMatch(/Max-Age|Expires/);
  });

  it('case 6: the id is read from the cookie only, never from the query, body or headers', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const id = idOf(cookie);
    const value = signSessionId(id, SECRET);
    for (const req of [
      bed.http().get(`/read?session=${value}&sid=${value}`),
      bed.http().get('/read').set('X-Session-Id', value).set('Authorization', `Bearer ${value}`),
    ]) {
      await req.expect(200, { counter: null });
    }
  });

  it("case 7: the app's own Set-Cookie survives beside exactly one session cookie; a 1 MB session keeps the cookie small", async () => {
    const res = await bed.http().get('/sec/own-cookie').expect(200);
    const all = res.headers['set-cookie'] as unknown as string[];
    expect(all.filter((c) => c.startsWith('theme=dark'))).toHaveLength(1);
    expect(setCookies(res)).toHaveLength(1);
    const huge = await bed.http().get('/sec/huge').expect(200);
    expect(cookieOf(huge).length).toBeLessThan(120);
  });

  it.each(['flat', 'pairs'])(
    "case 7: a raw writeHead with %s array headers keeps the app's Set-Cookie beside the session's, new session or not",
    async (form) => {
      const themed = (res: { headers: Record<string, unknown> }) =>
        (res.headers['set-cookie'] as unknown as string[]).filter((c) => c.startsWith('theme='));
      const first = await bed.http().get(`/sec/raw-head/${form}`).expect(200, { ok: true });
      expect(themed(first)).toEqual(['theme=dark; Path=/']);
      expect(setCookies(first)).toHaveLength(1);
      expect(first.headers['content-type']).toBe('application/json');
      const cookie = cookieOf(first);
      const again = await bed
        .http()
        .get(`/sec/raw-head/${form}`)
        .set('Cookie', cookie)
        .expect(200, { ok: true });
      expect(themed(again)).toEqual(['theme=dark; Path=/']);
      await bed.http().get('/read').set('Cookie', cookie).expect(200);
      expect(await bed.redis.client.hget(bed.key(idOf(cookie)), 'raw')).toBe(`"${form}"`);
    },
  );

  it('a raw writeHead the app got wrong answers 500 and is logged, and the process serves on', async () => {
    await bed
      .http()
      .get('/sec/raw-head/odd')
      .expect('content-type', /application\/json/)
      .expect(500, { statusCode: 500, message: 'Internal server error' });
    expect(capturedLogs()).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: expect.stringContaining("The response's writeHead failed"),
      }),
    );
    await bed.http().get('/read').expect(200);
  });

  it('case 9: keys outside the namespace, or of another type inside it, are never loaded as sessions', async () => {
    const id = 'N'.repeat(43);
    await bed.redis.client.hset(id, '$c', String(Date.now()), 'userId', '1');
    await bed.redis.client.hset(`other:${id}`, '$c', String(Date.now()), 'userId', '1');
    await bed.redis.client.set(bed.key(id), '{"userId":1}');
    try {
      const res = await bed
        .http()
        .get('/sec/whoami')
        .set('Cookie', signedCookie(id))
        .expect(200, { userId: null });
      expect(setCookies(res)).toEqual([]);
    } finally {
      await bed.redis.client.del(id, `other:${id}`, bed.key(id));
    }
  });

  it('case 10: unsigned, wrongly signed, truncated or odd-length signatures cost zero Redis commands', async () => {
    const watch = await monitor(bed.redis.url);
    try {
      const id = idOf(cookieOf(await bed.http().get('/write')));
      await watch.settle();
      watch.clear();
      const good = signSessionId(id, SECRET);
      for (const value of [
        id,
        signSessionId(id, 'w'.repeat(32)),
        good.slice(0, -2),
        `${good}AA`,
        `${id}.${'A'.repeat(10)}`,
      ]) {
        const res = await bed
          .http()
          .get('/sec/whoami')
          .set('Cookie', `session=${value}`)
          .expect(200, { userId: null });
        expect(setCookies(res)).toEqual([]);
      }
      await watch.settle();
      expect(watch.all.filter((c) => c.args.some((a) => a.includes(id)))).toEqual([]);
    } finally {
      await watch.close();
    }
  });

  it('case 11: a valid cookie with anything appended is rejected', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    // Whitespace around a value is header syntax (the cookie package trims it), not part of the value.
    for (const suffix of ['x', '.sig', '%00', '==', '%20x']) {
      await bed
        .http()
        .get('/read')
        .set('Cookie', `${cookie}${suffix}`)
        .expect(200, { counter: null });
    }
  });

  it('case 14: hostile ids give an anonymous session, no 5xx, and no key derived from them', async () => {
    const before = (await bed.keys()).length;
    const hostile = [
      '',
      'short12',
      'x'.repeat(10_000),
      'ünïcödé',
      '*',
      '{tag}',
      '../a',
      '%2e%2e%2fa',
      'a\tb',
    ];
    for (const raw of hostile) {
      const value =
        raw === '' ? '' : `${encodeURIComponent(raw)}.${signSessionId(raw, SECRET).split('.')[1]}`;
      await bed
        .http()
        .get('/sec/dump')
        .set('Cookie', `session=${value}`)
        .expect(200)
        .expect((res) => {
          expect(res.body.isNew).toBe(true);
          expect(res.body.keys).toEqual([]);
        });
    }
    expect((await bed.keys()).length).toBe(before);
  });

  it('case 14: two different signed session cookies in one request are ambiguous: anonymous', async () => {
    const a = cookieOf(await bed.http().get('/sec/login'));
    const b = cookieOf(await bed.http().get('/sec/login'));
    await bed.http().get('/sec/whoami').set('Cookie', `${a}; ${b}`).expect(200, { userId: null });
    await bed.http().get('/sec/whoami').set('Cookie', `${a}; ${a}`).expect(200, { userId: 7 });
    await bed
      .http()
      .get('/sec/whoami')
      .set('Cookie', `session=junk; ${a}`)
      .expect(200, { userId: 7 });
  });

  it('case 15: a validly signed id that is not stored is never adopted, and is logged by digest only', async () => {
    const id = 'S'.repeat(43);
    const lines: string[] = [];
    const spy = jest.spyOn(Logger.prototype, 'debug').mockImplementation((message: any) => {
      lines.push(String(message));
    });
    try {
      const res = await bed
        .http()
        .get('/write')
        .set('Cookie', signedCookie(id))
        .expect(200, { counter: 1 });
      expect(idOf(cookieOf(res))).not.toBe(id);
      expect(await bed.redis.client.exists(bed.key(id))).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(lines.some((l) => l.includes('no live session'))).toBe(true);
    expect(lines.join('\n')).not.toContain(id);
  });
});

describe('secret rotation (case 13) and cookie rules at boot (case 3)', () => {
  it('signs with the new secret, verifies and re-signs old-secret cookies, forgets dropped secrets', async () => {
    const oldBed = await sessionBed('express', { secret: OLD_SECRET });
    const cookie = cookieOf(await oldBed.http().get('/sec/login'));
    await oldBed.app.close();
    const rotated = await sessionBed(
      'express',
      { secret: SECRET, oldSecrets: [OLD_SECRET] },
      { redis: oldBed.redis },
    );
    try {
      const res = await rotated
        .http()
        .get('/sec/whoami')
        .set('Cookie', cookie)
        .expect(200, { userId: 7 });
      const resigned = cookieOf(res);
      expect(idOf(resigned)).toBe(idOf(cookie));
      expect(decodeURIComponent(resigned.split('=')[1])).toBe(signSessionId(idOf(cookie), SECRET));
      await rotated.app.close();
      const dropped = await sessionBed('express', { secret: SECRET }, { redis: oldBed.redis });
      await dropped.http().get('/sec/whoami').set('Cookie', cookie).expect(200, { userId: null });
      await dropped.http().get('/sec/whoami').set('Cookie', resigned).expect(200, { userId: 7 });
      await dropped.app.close();
    } finally {
      await oldBed.redis.stop();
    }
  });

  it('sends a __Host- cookie with Secure under cookie_secure auto, even over plain HTTP', async () => {
    // Without Secure every browser drops a prefixed cookie; with it, localhost still accepts it.
    const bed = await sessionBed('express', { cookie: { name: '__Host-sid' } });
    try {
      const res = await bed.http().get('/write').expect(200);
      const [cookie] = setCookies(res, '__Host-sid');
      expect(cookie).toMatch(/^__Host-sid=.*; Path=\/;.*Secure/);
    } finally {
      await bed.close();
    }
  });

  it('refuses to boot without a secret, with an empty one, or with unsafe cookie settings', async () => {
    const bad = [
      { secret: '' },
      { secret: SECRET, oldSecrets: [''] },
      { secret: SECRET, cookie: { name: '__Host-sid', domain: 'example.com' } },
      { secret: SECRET, cookie: { name: '__Host-sid', path: '/app' } },
      { secret: SECRET, cookie: { name: '__Secure-sid', secure: false } },
      { secret: SECRET, cookie: { name: 'sid\r\nX-Evil: 1' } },
      { secret: SECRET, cookie: { path: '/;Domain=evil.com' } },
      { secret: SECRET, cookie: { domain: 'a.com; Secure' } },
    ];
    for (const options of bad) {
      await expect(
        Test.createTestingModule({
          imports: [RedisSessionModule.forRoot(options as never)],
        }).compile(),
      ).rejects.toThrow(/RedisSession configuration error/);
    }
  });
});
