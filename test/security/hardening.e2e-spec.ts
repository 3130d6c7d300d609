import { MemorySessionStore, SessionService } from '../../src/index.js';
import { HardeningTestController } from '../app/hardening-test.controller.js';
import { Latches } from '../app/security-test.controller.js';
import { UsersTestController } from '../app/users-test.controller.js';
import {
  ADAPTERS,
  SECRET,
  cookieOf,
  idOf,
  request,
  setCookies,
  signedCookie,
} from '../utils/app.js';
import { capturedLogs } from '../utils/quiet-logs.js';
import { STORES, sessionBed, type SessionBed } from '../utils/sessions.js';

const KEY = 'a'.repeat(64);
const OLD_KEY = 'b'.repeat(64);

/** Issue 12: hostile data never breaks a session, identity changes only on success, the SHOULDs. */
describe.each(ADAPTERS)('hardening on %s', (adapter) => {
  describe.each(STORES)('with the %s store', (storeName) => {
    let bed: SessionBed;
    let store: MemorySessionStore | undefined;

    beforeAll(async () => {
      store = storeName === 'memory' ? new MemorySessionStore() : undefined;
      bed = await sessionBed(
        adapter,
        { store },
        { metadata: { controllers: [HardeningTestController] } },
      );
    });

    afterAll(async () => {
      await bed?.close();
    });

    it('a login that throws after regenerate leaves the user logged out and the old session as it was', async () => {
      const cookie = cookieOf(await bed.http().get('/h/write/visit/1').expect(200));
      const res = await bed.http().get('/h/second-factor-fails').set('Cookie', cookie).expect(401);
      expect(setCookies(res)).toEqual([]);
      await bed
        .http()
        .get('/h/read')
        .set('Cookie', cookie)
        .expect(200, { data: { visit: '1' } });
    });

    it('a 500 body is generic: no key name, no serializer error; the log names the key', async () => {
      const res = await bed.http().get('/h/bigint').expect(500);
      expect(res.body).toEqual({ statusCode: 500, message: 'Internal server error' });
      expect(JSON.stringify(res.body)).not.toContain('secretKeyName');
      expect(
        capturedLogs().some((l) => l.level === 'error' && l.message.includes('secretKeyName')),
      ).toBe(true);
    });

    it("a response that sets the cookie says Cache-Control: no-store and Vary: Cookie; an app's own Cache-Control stands", async () => {
      const created = await bed.http().get('/h/write/a/1').expect(200);
      expect(created.headers['cache-control']).toBe('no-store');
      expect(created.headers.vary).toMatch(/Cookie/);
      const read = await bed.http().get('/h/read').set('Cookie', cookieOf(created)).expect(200);
      expect(read.headers.vary).toMatch(/Cookie/);
      expect(read.headers['cache-control']).toBeUndefined();
      const own = await bed.http().get('/h/cached').expect(200);
      expect(own.headers['cache-control']).toBe('public, max-age=60');
    });

    it('limits by default: a 1 MB+ value, 10,001 keys and a 150-message flash queue', async () => {
      const before = (await bed.keys()).length;
      await bed
        .http()
        .get('/h/big-value')
        .expect(500, { statusCode: 500, message: 'Internal server error' });
      await bed.http().get('/h/many-fields').expect(500);
      expect((await bed.keys()).length).toBe(before);
      await bed.http().get('/h/flash-many').expect(200, { queued: 100 });
    });

    it('cookie tossing: `session =A; session=B` resolves to neither cookie', async () => {
      const a = cookieOf(await bed.http().get('/h/write/owner/attacker').expect(200));
      const b = cookieOf(await bed.http().get('/h/write/owner/victim').expect(200));
      const tossed = `session =${a.split('=')[1]}; ${b}`;
      const res = await bed.http().get('/h/read').set('Cookie', tossed).expect(200);
      expect(res.body).toEqual({ data: {} });
    });

    /** A POST carrying a CSRF token in the header, with the cookies given. */
    const csrfPost = (path: string, token: string, cookie: string) =>
      bed.http().post(path).set('Cookie', cookie).set('X-CSRF-Token', token);

    it('CSRF tokens are masked per response and every masking verifies', async () => {
      const first = await bed.http().get('/h/masked').expect(200);
      const cookie = cookieOf(first);
      const { a, b } = first.body;
      expect(a).not.toBe(b);
      await csrfPost('/h/protected', a, cookie).expect(201);
      await csrfPost('/h/protected', b, cookie).expect(201);
      const forged = a.slice(0, -2) + (a.endsWith('AA') ? 'BB' : 'AA');
      await csrfPost('/h/protected', forged, cookie).expect(403);
    });

    it('an anonymous form token creates no session: 200 login forms store nothing', async () => {
      const before = (await bed.keys()).length;
      let last!: request.Response;
      for (let i = 0; i < 200; i++) last = await bed.http().get('/h/login-form').expect(200);
      expect((await bed.keys()).length).toBe(before);
      expect(setCookies(last)).toEqual([]);
      const nonce = cookieOf(last, 'session.csrf');
      await csrfPost('/h/login', last.body.token, nonce).expect(201);
      await bed.http().post('/h/login').set('X-CSRF-Token', last.body.token).expect(403);
      const other = signedCookie('x'.repeat(43)).replace('session=', 'session.csrf=').split('.')[0];
      await csrfPost('/h/login', last.body.token, other).expect(403);
    });

    it("a login form's anonymous token stops passing once the session is logged in", async () => {
      const form = await bed.http().get('/h/login-form').expect(200);
      const nonce = cookieOf(form, 'session.csrf');
      const login = await csrfPost('/h/login-as/ann', form.body.token, nonce).expect(201);
      const jar = `${cookieOf(login)}; ${nonce}`;
      await csrfPost('/h/protected', form.body.token, jar).expect(403);
      await csrfPost('/h/protected', login.body.token, jar).expect(201);
    });
  });
});

describe.each(ADAPTERS)('corrupt stored data on %s (planted in a real Redis)', (adapter) => {
  let bed: SessionBed;

  beforeAll(async () => {
    bed = await sessionBed(
      adapter,
      { maxSize: 10_000 },
      { metadata: { controllers: [HardeningTestController] } },
    );
  });

  afterAll(async () => {
    await bed?.close();
  });

  const planted = async (fields: Record<string, string>) => {
    const cookie = cookieOf(await bed.http().get('/h/write/keep/1').expect(200));
    await bed.redis.client.hset(bed.key(idOf(cookie)), fields);
    return cookie;
  };

  it.each([
    [
      'a session over max_size (written before the limit)',
      { blob: JSON.stringify('y'.repeat(20_000)) },
    ],
    ['a value nested 10,000 levels deep', { deep: '['.repeat(10_000) + ']'.repeat(10_000) }],
    ['a per-session timeout of 1e20', { $t: '1e20' }],
    ['a flash queue that is not an array', { '$f:': '"oops"' }],
    ['a value that is not JSON', { bad: '{"secret-token-value": tru' }],
  ])('%s gives a fresh session (200), logged without the stored bytes', async (_name, fields) => {
    const cookie = await planted(fields);
    for (let i = 0; i < 2; i++) {
      const res = await bed.http().get('/h/read').set('Cookie', cookie).expect(200);
      expect(res.body).toEqual({ data: {} });
    }
    await bed.http().get('/h/write/after/1').set('Cookie', cookie).expect(200);
    const warnings = capturedLogs().filter((l) => l.level === 'warn');
    expect(warnings.length).toBeGreaterThan(0);
    for (const w of warnings) {
      expect(w.message).not.toContain('secret-token-value');
      expect(w.message).not.toContain('yyyy');
      expect(w.message).not.toContain(idOf(cookie));
    }
  });
});

describe.each(ADAPTERS)('the SHOULDs on %s', (adapter) => {
  it('rotation grace: the old id reads the successor for a few seconds, read-only, never revived', async () => {
    const bed = await sessionBed(
      adapter,
      { rotationGrace: 5 },
      { metadata: { controllers: [HardeningTestController] } },
    );
    try {
      const old = cookieOf(await bed.http().get('/h/write/cart/3').expect(200));
      const rotated = await bed.http().get('/h/regenerate').set('Cookie', old).expect(200);
      const next = cookieOf(rotated);
      const marker = await bed.redis.client.hgetall(bed.key(idOf(old)));
      expect(marker).toEqual({ '$>': idOf(next) });
      expect(await bed.redis.client.pttl(bed.key(idOf(old)))).toBeLessThanOrEqual(5000);
      // The marker is no session to administration: not listed, not "existing".
      const sessions = bed.app.get(SessionService);
      expect(await sessions.exists(idOf(old))).toBe(false);
      expect(await sessions.exists(idOf(next))).toBe(true);
      const ids: string[] = [];
      for await (const id of sessions.ids()) ids.push(id);
      expect(ids).toContain(idOf(next));
      expect(ids).not.toContain(idOf(old));
      const inFlight = await bed.http().get('/h/read').set('Cookie', old).expect(200);
      expect(inFlight.body).toEqual({ data: { cart: '3' } });
      expect(setCookies(inFlight)).toEqual([]);
      // A write through the old id is not saved anywhere.
      await bed.http().get('/h/write/cart/4').set('Cookie', old).expect(200);
      await bed
        .http()
        .get('/h/read')
        .set('Cookie', next)
        .expect(200, { data: { cart: '3' } });
      expect(await bed.redis.client.hgetall(bed.key(idOf(old)))).toEqual({ '$>': idOf(next) });
    } finally {
      await bed.close();
    }
  });

  it('rotation grace 0 (the default): the old id is dead at once', async () => {
    const bed = await sessionBed(
      adapter,
      {},
      { metadata: { controllers: [HardeningTestController] } },
    );
    try {
      const old = cookieOf(await bed.http().get('/h/write/cart/3').expect(200));
      await bed.http().get('/h/regenerate').set('Cookie', old).expect(200);
      expect(await bed.redis.client.exists(bed.key(idOf(old)))).toBe(0);
      await bed.http().get('/h/read').set('Cookie', old).expect(200, { data: {} });
    } finally {
      await bed.close();
    }
  });

  it('hashed keys: no key names a usable id; sessions, regenerate, the user index and admin work', async () => {
    const bed = await sessionBed(
      adapter,
      { hashedKeys: true },
      {
        metadata: {
          controllers: [HardeningTestController, UsersTestController],
          providers: [Latches],
        },
      },
    );
    try {
      const cookie = cookieOf(await bed.http().get('/u/login/zoe').expect(200));
      const second = cookieOf(await bed.http().get('/u/login/zoe').expect(200));
      const keys = await bed.keys();
      for (const id of [idOf(cookie), idOf(second)])
        expect(keys.some((k) => k.includes(id))).toBe(false);
      const index = await bed.redis.client.zrange(`${bed.redis.prefix}user:zoe`, '0', '-1');
      expect(index.every((member) => member.startsWith('~'))).toBe(true);
      await bed.http().get('/u/me').set('Cookie', cookie).expect(200, { user: 'zoe' });
      const rotated = cookieOf(
        await bed.http().get('/h/regenerate').set('Cookie', cookie).expect(200),
      );
      await bed.http().get('/u/me').set('Cookie', rotated).expect(200, { user: 'zoe' });
      const list = (await bed.http().get('/u/devices').set('Cookie', rotated).expect(200)).body;
      expect(list).toHaveLength(2);
      expect(list.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
      expect(
        (await bed.http().get('/u/revoke-others').set('Cookie', rotated).expect(200)).body,
      ).toEqual({ ended: 1 });
      await bed.http().get('/u/me').set('Cookie', second).expect(200, { user: null });
      const sessions = bed.app.get(SessionService);
      const ids: string[] = [];
      for await (const id of sessions.ids()) ids.push(id);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) expect(await sessions.destroy(id)).toBe(true);
      await bed.http().get('/u/me').set('Cookie', rotated).expect(200, { user: null });
    } finally {
      await bed.close();
    }
  });

  it('encryption at rest: Redis holds no plaintext; reads work; old keys decrypt; tampering is corrupt data', async () => {
    const bed = await sessionBed(
      adapter,
      { encryptionKey: OLD_KEY },
      { metadata: { controllers: [HardeningTestController] } },
    );
    let cookie: string;
    try {
      cookie = cookieOf(await bed.http().get('/h/write/card/4111-1111').expect(200));
      const stored = await bed.redis.client.hgetall(bed.key(idOf(cookie)));
      expect(JSON.stringify(stored)).not.toContain('4111');
      expect(stored.card).toMatch(/^e1\./);
      await bed
        .http()
        .get('/h/read')
        .set('Cookie', cookie)
        .expect(200, { data: { card: '4111-1111' } });
    } finally {
      await bed.app.close();
    }
    // Rotated: a new key encrypts, the old one still decrypts.
    const rotated = await sessionBed(
      adapter,
      { encryptionKey: KEY, oldEncryptionKeys: [OLD_KEY] },
      { metadata: { controllers: [HardeningTestController] }, redis: bed.redis },
    );
    try {
      await rotated
        .http()
        .get('/h/read')
        .set('Cookie', cookie)
        .expect(200, { data: { card: '4111-1111' } });
      const key = bed.key(idOf(cookie));
      const card = await bed.redis.client.hget(key, 'card');
      await bed.redis.client.hset(
        key,
        'card',
        card!.slice(0, -4) + (card!.endsWith('AAAA') ? 'BBBB' : 'AAAA'),
      );
      await rotated.http().get('/h/read').set('Cookie', cookie).expect(200, { data: {} });
    } finally {
      await rotated.app.close();
      await bed.redis.stop();
    }
  });
});

void SECRET;
