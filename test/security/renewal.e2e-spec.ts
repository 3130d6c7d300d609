import { MemorySessionStore } from '../../src/index.js';
import { ADAPTERS, cookieOf, createApp, idOf, request, setCookies } from '../utils/app.js';
import { RedisSessionModule } from '../../src/index.js';
import { SECRET } from '../utils/app.js';
import { SecurityTestController, Latches } from '../app/security-test.controller.js';
import { SessionTestController } from '../app/session-test.controller.js';
import { sessionBed, type SessionBed } from '../utils/sessions.js';

/** Cases C (fixation and renewal) and D (timeouts and termination) of SECURITY-CASES.md. */
describe.each(ADAPTERS)('renewal and termination on %s', (adapter) => {
  let bed: SessionBed;

  beforeAll(async () => {
    // touchInterval 0: every read slides, so the cases see the exact TTL rule (the default's
    // slack is proved in test/touch-interval.e2e-spec.ts).
    bed = await sessionBed(adapter, { absoluteTimeout: 3600, touchInterval: 0 });
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('case 16: regenerate gives a new id, deletes the old key, and the old cookie is anonymous', async () => {
    const before = cookieOf(await bed.http().get('/write'));
    const after = cookieOf(await bed.http().get('/sec/login').set('Cookie', before).expect(200));
    expect(idOf(after)).not.toBe(idOf(before));
    expect(await bed.redis.client.exists(bed.key(idOf(before)))).toBe(0);
    await bed.http().get('/sec/whoami').set('Cookie', before).expect(200, { userId: null });
    await bed.http().get('/sec/whoami').set('Cookie', after).expect(200, { userId: 7 });
    await bed.http().get('/read').set('Cookie', after).expect(200, { counter: 1 });
  });

  it('case 17: a cookie planted before the victim logs in stays anonymous', async () => {
    const planted = cookieOf(await bed.http().get('/set/attacker/was-here'));
    const victim = cookieOf(await bed.http().get('/sec/login').set('Cookie', planted).expect(200));
    await bed.http().get('/sec/whoami').set('Cookie', planted).expect(200, { userId: null });
    await bed.http().get('/sec/whoami').set('Cookie', victim).expect(200, { userId: 7 });
  });

  it('case 18 and 33: a CSRF token from before login is rejected after it, and after logout', async () => {
    const first = await bed.http().get('/sec/csrf').expect(200);
    const anonymous = cookieOf(first);
    const preLogin = first.body.token;
    const loggedIn = cookieOf(await bed.http().get('/sec/login').set('Cookie', anonymous));
    await bed
      .http()
      .post('/sec/protected')
      .set('Cookie', loggedIn)
      .set('X-CSRF-Token', preLogin)
      .expect(403);
    const { token } = (await bed.http().get('/sec/csrf').set('Cookie', loggedIn).expect(200)).body;
    expect(token).not.toBe(preLogin);
    await bed
      .http()
      .post('/sec/protected')
      .set('Cookie', loggedIn)
      .set('X-CSRF-Token', token)
      .expect(200);
    await bed.http().get('/sec/logout').set('Cookie', loggedIn).expect(200);
    await bed
      .http()
      .post('/sec/protected')
      .set('Cookie', loggedIn)
      .set('X-CSRF-Token', token)
      .expect(403);
  });

  it('case 19: regenerate twice in one request leaves only the last id', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const res = await bed.http().get('/regenerate-twice').set('Cookie', cookie).expect(200);
    const keys = await bed.keys();
    expect(keys).toContain(bed.key(res.body.id));
    expect(keys).not.toContain(bed.key(res.body.first));
    expect(keys).not.toContain(bed.key(idOf(cookie)));
  });

  it("case 22: the idle timeout is Redis's own TTL, and a read slides it without rewriting data", async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const key = bed.key(idOf(cookie));
    await bed.redis.client.pexpire(key, 5000);
    await bed.http().get('/read').set('Cookie', cookie).expect(200, { counter: 1 });
    expect(await bed.redis.client.pttl(key)).toBeGreaterThan(1_190_000);
    await bed.redis.client.pexpire(key, 1);
    // Redis expires the key by itself; poll (bounded) for that instead of guessing a delay.
    for (let i = 0; i < 200 && (await bed.redis.client.exists(key)); i++)
      await new Promise((r) => setImmediate(r));
    await bed.http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
  });

  it('case 23: the TTL never passes the absolute deadline, and a session past it is rejected and deleted', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const key = bed.key(idOf(cookie));
    const fields = await bed.redis.client.hgetall(key);
    const deadline = Number(fields.$a);
    expect(deadline - Number(fields.$c)).toBe(3_600_000);
    await bed.redis.client.hset(key, '$a', String(Date.now() + 30_000));
    await bed.http().get('/read').set('Cookie', cookie).expect(200, { counter: 1 });
    expect(await bed.redis.client.pttl(key)).toBeLessThanOrEqual(30_000);
    await bed.redis.client.hset(key, '$a', String(Date.now() - 1));
    await bed.http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
    expect(await bed.redis.client.exists(key)).toBe(0);
  });

  it('case 24: adjustTimeout is persisted and visible in PTTL, clamped by the deadline; 0 ends the session', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const key = bed.key(idOf(cookie));
    await bed.http().get('/sec/timeout/10').set('Cookie', cookie).expect(200);
    expect(await bed.redis.client.pttl(key)).toBeLessThanOrEqual(10_000);
    expect(await bed.redis.client.hget(key, '$t')).toBe('10');
    await bed.http().get('/read').set('Cookie', cookie).expect(200);
    expect(await bed.redis.client.pttl(key)).toBeLessThanOrEqual(10_000);
    await bed.http().get('/sec/timeout/100000').set('Cookie', cookie).expect(200);
    expect(await bed.redis.client.pttl(key)).toBeLessThanOrEqual(3_600_000);
    for (const bad of ['NaN', '-5', 'Infinity'])
      await bed.http().get(`/sec/timeout/${bad}`).set('Cookie', cookie).expect(500);
    const end = await bed.http().get('/sec/timeout/0').set('Cookie', cookie).expect(200);
    expect(setCookies(end)[0]).toMatch(/^session=; Max-Age=0/);
    expect(await bed.redis.client.exists(key)).toBe(0);
  });

  it('case 25: logout deletes the key and clears the cookie with the same Path and Domain', async () => {
    const scoped = await sessionBed(
      adapter,
      { cookie: { path: '/', domain: 'example.test' } },
      { redis: bed.redis },
    );
    try {
      const cookie = cookieOf(await scoped.http().get('/write'));
      const res = await scoped.http().get('/sec/logout').set('Cookie', cookie).expect(200);
      const cleared = setCookies(res);
      expect(cleared).toHaveLength(1);
      expect(cleared[0]).toMatch(
        /^session=; Max-Age=0; Domain=example\.test; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/,
      );
      expect(await bed.redis.client.exists(bed.key(idOf(cookie)))).toBe(0);
      await scoped.http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
    } finally {
      await scoped.app.close();
    }
  });

  it('case 27: a hash without its meta fields is no session, not a 500', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    await bed.redis.client.hdel(bed.key(idOf(cookie)), '$c');
    const res = await bed.http().get('/sec/dump').set('Cookie', cookie).expect(200);
    expect(res.body.isNew).toBe(true);
  });

  it('case 30: a 5xx commits nothing when cookie_on_exception is off', async () => {
    const strict = await sessionBed(adapter, { cookieOnException: false }, { redis: bed.redis });
    try {
      const cookie = cookieOf(await strict.http().get('/write'));
      const res = await strict.http().get('/throw/500').set('Cookie', cookie).expect(500);
      expect(setCookies(res)).toEqual([]);
      expect(await bed.redis.client.hget(bed.key(idOf(cookie)), 'beforeThrow')).toBeNull();
      const fresh = await strict.http().get('/throw/400').expect(400);
      expect(setCookies(fresh)).toEqual([]);
    } finally {
      await strict.app.close();
    }
  });

  it('case 4: a configured Max-Age never outlives the absolute deadline', async () => {
    const remember = await sessionBed(
      adapter,
      { absoluteTimeout: 60, cookie: { maxAge: 86_400 } },
      { redis: bed.redis },
    );
    try {
      const [header] = setCookies(await remember.http().get('/write'));
      const maxAge = Number(/Max-Age=(\d+)/.exec(header)![1]);
      expect(maxAge).toBeLessThanOrEqual(60);
      expect(maxAge).toBeGreaterThan(55);
    } finally {
      await remember.app.close();
    }
  });
});

describe('case 19: a failed renewal leaves no half-written session', () => {
  it('surfaces the error, writes nothing under the new id and keeps the old session intact', async () => {
    class FailingCreate extends MemorySessionStore {
      failCreates = false;
      override async create(
        id: string,
        fields: string[],
        ttl: number,
        abs?: number,
      ): Promise<boolean> {
        if (this.failCreates) throw new Error('disk on fire');
        return super.create(id, fields, ttl, abs);
      }
    }
    const store = new FailingCreate();
    const app = await createApp('express', {
      imports: [RedisSessionModule.forRoot({ secret: SECRET, store })],
      controllers: [SessionTestController, SecurityTestController],
      providers: [Latches],
    });
    try {
      const cookie = cookieOf(await request(app.getHttpServer()).get('/write'));
      store.failCreates = true;
      const res = await request(app.getHttpServer())
        .get('/sec/login')
        .set('Cookie', cookie)
        .expect(503);
      expect(setCookies(res)).toEqual([]);
      const ids: string[] = [];
      for await (const id of store.ids()) ids.push(id);
      // The new session is written before the old one is deleted: a failure loses nothing.
      expect(ids).toEqual([idOf(cookie)]);
      await request(app.getHttpServer())
        .get('/read')
        .set('Cookie', cookie)
        .expect(200, { counter: 1 });
    } finally {
      await app.close();
    }
  });
});
