import {
  MemorySessionStore,
  SessionService,
  SessionStore,
  type SessionEvent,
} from '../src/index.js';
import { Latches } from './app/security-test.controller.js';
import { UsersTestController } from './app/users-test.controller.js';
import { ADAPTERS, cookieOf, idOf, setCookies } from './utils/app.js';
import { monitor } from './utils/redis-server.js';
import { STORES, sessionBed, type SessionBed } from './utils/sessions.js';

/** Sessions by user: binding, the device list, revocation, pruning and events. */
describe.each(ADAPTERS)('sessions by user on %s', (adapter) => {
  describe.each(STORES)('with the %s store', (storeName) => {
    let bed: SessionBed;
    let store: MemorySessionStore | undefined;
    let events: SessionEvent[];

    beforeAll(async () => {
      store = storeName === 'memory' ? new MemorySessionStore() : undefined;
      bed = await sessionBed(
        adapter,
        { store, timeout: 60 },
        { metadata: { controllers: [UsersTestController] } },
      );
      // An expression-bodied listener (its return value ignored) is a SessionEventListener.
      bed.app.get(SessionService).onEvent((event) => events.push(event));
    });

    beforeEach(() => {
      events = [];
    });

    afterAll(async () => {
      await bed?.close();
    });

    const device = async (user: string, agent: string) => {
      const res = await bed.http().get(`/u/login/${user}`).set('User-Agent', agent).expect(200);
      return { cookie: cookieOf(res), id: res.body.id as string };
    };
    const indexSize = async (user: string) =>
      store ? store.indexSize(user) : bed.redis.client.zcard(`${bed.redis.prefix}user:${user}`);

    it("lists a user's live sessions with metadata and a handle that is not the id", async () => {
      const phone = await device('ann', 'Phone/1.0');
      const laptop = await device('ann', 'Laptop/2.0');
      await device('bob', 'Other/1.0');
      const list = (await bed.http().get('/u/devices').set('Cookie', laptop.cookie).expect(200))
        .body;
      expect(list).toHaveLength(2);
      expect(list.map((s: { userAgent: string }) => s.userAgent).sort()).toEqual([
        'Laptop/2.0',
        'Phone/1.0',
      ]);
      expect(list.find((s: { current: boolean }) => s.current).userAgent).toBe('Laptop/2.0');
      for (const s of list) {
        expect(s.handle).not.toContain(phone.id);
        expect(s.handle).not.toContain(laptop.id);
        expect(s.createdAt).toBeGreaterThan(Date.now() - 60_000);
        expect(s.lastSeenAt).toBeGreaterThanOrEqual(s.createdAt);
        expect(typeof s.ip).toBe('string');
      }
      expect(
        events.filter((e) => e.type === 'session.regenerated' || e.type === 'session.created'),
      ).toHaveLength(3);
    });

    it('revokes one session with immediate effect; a handle of another user does nothing', async () => {
      const a = await device('cid', 'A');
      const b = await device('cid', 'B');
      const list = (await bed.http().get('/u/devices').set('Cookie', a.cookie).expect(200)).body;
      const other = list.find((s: { current: boolean }) => !s.current);
      expect((await bed.http().get(`/u/revoke/dan/${other.handle}`).expect(200)).body).toEqual({
        ended: false,
      });
      expect((await bed.http().get(`/u/revoke/cid/${other.handle}`).expect(200)).body).toEqual({
        ended: true,
      });
      await bed.http().get('/u/me').set('Cookie', b.cookie).expect(200, { user: null });
      await bed.http().get('/u/me').set('Cookie', a.cookie).expect(200, { user: 'cid' });
      expect(events.filter((e) => e.type === 'session.destroyed')).toEqual([
        { type: 'session.destroyed', handle: other.handle, userId: 'cid' },
      ]);
    });

    it("destroy(id) names the session's user in its event and drops it from that user's list", async () => {
      const a = await device('ida', 'A');
      await device('ida', 'B');
      events = [];
      const service = bed.app.get(SessionService);
      await expect(service.destroy(a.id)).resolves.toBe(true);
      expect(events).toEqual([
        { type: 'session.destroyed', handle: expect.any(String), userId: 'ida' },
      ]);
      expect(await indexSize('ida')).toBe(1);
      await bed.http().get('/u/me').set('Cookie', a.cookie).expect(200, { user: null });
      // Already gone: nothing ended, nothing announced.
      await expect(service.destroy(a.id)).resolves.toBe(false);
      expect(events).toHaveLength(1);
    });

    it('revokes all but the current session, then all', async () => {
      const a = await device('eve', 'A');
      const b = await device('eve', 'B');
      const c = await device('eve', 'C');
      expect(
        (await bed.http().get('/u/revoke-others').set('Cookie', a.cookie).expect(200)).body,
      ).toEqual({ ended: 2 });
      await bed.http().get('/u/me').set('Cookie', b.cookie).expect(200, { user: null });
      await bed.http().get('/u/me').set('Cookie', c.cookie).expect(200, { user: null });
      await bed.http().get('/u/me').set('Cookie', a.cookie).expect(200, { user: 'eve' });
      expect((await bed.http().get('/u/revoke-all/eve').expect(200)).body).toEqual({ ended: 1 });
      await bed.http().get('/u/me').set('Cookie', a.cookie).expect(200, { user: null });
      expect(await indexSize('eve')).toBe(0);
    });

    it('setUser on an existing session lists it, and revoke-all ends it', async () => {
      const cookie = cookieOf(await bed.http().get('/u/visit').expect(200));
      await bed.http().get('/u/visit').set('Cookie', cookie).expect(200);
      await bed.http().get('/u/bind/gus').set('Cookie', cookie).expect(200);
      expect(await indexSize('gus')).toBe(1);
      const list = (await bed.http().get('/u/devices').set('Cookie', cookie).expect(200)).body;
      expect(list).toHaveLength(1);
      expect((await bed.http().get('/u/revoke-all/gus').expect(200)).body).toEqual({ ended: 1 });
      await bed.http().get('/u/me').set('Cookie', cookie).expect(200, { user: null });
    });

    it('regenerate keeps the binding; logout removes it from the index', async () => {
      const a = await device('fay', 'A');
      const again = await bed.http().get('/u/login/fay').set('Cookie', a.cookie).expect(200);
      const next = cookieOf(again);
      expect(idOf(next)).not.toBe(a.id);
      expect(await indexSize('fay')).toBe(1);
      await bed.http().get('/u/logout').set('Cookie', next).expect(200);
      expect(await indexSize('fay')).toBe(0);
      expect(events.map((e) => e.type)).toEqual([
        'session.created',
        'session.regenerated',
        'session.destroyed',
      ]);
      // A listener can follow the session from its old handle to its new one.
      const [created, regenerated, destroyed] = events;
      expect(regenerated.previousHandle).toBe(created.handle);
      expect(regenerated.handle).not.toBe(created.handle);
      expect(destroyed.handle).toBe(regenerated.handle);
      expect(created.previousHandle).toBeUndefined();
    });

    it('a login in a request that throws is dropped: no new id, no binding, the rest kept', async () => {
      const visitor = cookieOf(await bed.http().get('/write').expect(200));
      const res = await bed.http().get('/u/login-then-fail/gus').set('Cookie', visitor).expect(401);
      expect(setCookies(res)).toEqual([]);
      await bed.http().get('/u/me').set('Cookie', visitor).expect(200, { user: null });
      expect(await indexSize('gus')).toBe(0);
    });

    it('refuses a user id that is not a string or a number', async () => {
      const res = await bed.http().get('/u/bad-user').expect(200);
      expect(res.body.error).toMatch(/user id must be a non-empty string or a finite number/);
    });

    it('prunes entries of sessions that expired on their own: 1,000 expired, index size 0', async () => {
      // 1,000 bound sessions written through the store the app uses, as 1,000 logins would.
      const sessions = bed.app.get(SessionStore);
      const ids: string[] = [];
      for (let i = 0; i < 1000; i++) {
        const id = `expiring-session-${String(i).padStart(6, '0')}-xxxxxxxx`;
        ids.push(id);
        await sessions.create(id, ['$u', '"hal"'], 60_000);
        await sessions.indexAdd!('hal', id, Date.now() + 60_000);
      }
      expect(await indexSize('hal')).toBe(1000);
      if (store) for (const id of ids) await store.destroy(id);
      else {
        const pipeline = bed.redis.client.pipeline();
        for (const id of ids) pipeline.pexpire(bed.key(id), 1);
        await pipeline.exec();
      }
      // Redis expires the keys by itself; a listing drops what no longer exists.
      let listed: unknown[] = [1];
      for (let i = 0; i < 200 && listed.length > 0; i++) {
        listed = await bed.app.get(SessionService).userSessions('hal');
        if (listed.length > 0) await new Promise((r) => setImmediate(r));
      }
      expect(listed).toEqual([]);
      expect(await indexSize('hal')).toBe(0);
    });

    it('pages a long list', async () => {
      const devices = [];
      for (let i = 0; i < 5; i++) devices.push(await device('ivy', `D${i}`));
      const page = (
        await bed
          .http()
          .get('/u/devices?offset=1&limit=2')
          .set('Cookie', devices[0].cookie)
          .expect(200)
      ).body;
      expect(page.map((s: { userAgent: string }) => s.userAgent)).toEqual(['D1', 'D2']);
    });

    it('a concurrent login and revoke-all leave no live session the index does not know', async () => {
      const old = await device('jon', 'old');
      const login = bed
        .http()
        .get('/u/slow-login/jon/jon-race')
        .set('Cookie', old.cookie)
        .then((r) => r);
      await bed.latches.reached('jon-race');
      await bed.http().get('/u/revoke-all/jon').expect(200);
      bed.latches.open('jon-race');
      const res = await login;
      const cookies = setCookies(res);
      if (cookies.length > 0) {
        // The login survived: then the index must know its session.
        const list = await bed.app.get(SessionService).userSessions('jon');
        expect(list).toHaveLength(1);
      }
      const live = (await bed.keys()).filter((k) => !k.includes('user:'));
      const known = await bed.app.get(SessionService).userSessions('jon');
      const jonLive = [];
      for (const key of live) {
        const id = key.slice(bed.redis.prefix.length);
        const fields = store
          ? store.fields(id)
          : new Map(Object.entries(await bed.redis.client.hgetall(key)));
        if (fields?.get('$u') === '"jon"') jonLive.push(id);
      }
      expect(jonLive.length).toBe(known.length);
    });

    if (storeName === 'redis') {
      it('a read-only request of a bound session is still one round trip', async () => {
        const a = await device('kim', 'A');
        const watch = await monitor(bed.redis.url);
        try {
          await watch.settle();
          watch.clear();
          await bed.http().get('/read').set('Cookie', a.cookie).expect(200);
          await watch.settle();
          // Slid when the device logged in, so within touch_interval: a plain HGETALL.
          expect(watch.roundTrips(bed.redis.prefix).map((c) => c.name)).toEqual(['hgetall']);
        } finally {
          await watch.close();
        }
      });
    }
  });
});

void Latches;

/** `user_key`: the app's own key binds the session, with no setUser call. */
describe.each(ADAPTERS)('user_key on %s', (adapter) => {
  describe.each(STORES)('with the %s store', (storeName) => {
    let bed: SessionBed;
    let sessions: SessionService;

    beforeAll(async () => {
      const store = storeName === 'memory' ? new MemorySessionStore() : undefined;
      bed = await sessionBed(
        adapter,
        { store, timeout: 60, userKey: 'account.id' },
        { metadata: { controllers: [UsersTestController] } },
      );
      sessions = bed.app.get(SessionService);
    });

    afterAll(async () => {
      await bed?.close();
    });

    it('binds the session when the key is written, and unbinds it when the key is removed', async () => {
      const login = await bed.http().get('/u/key-login/kim').expect(200, { user: 'kim' });
      const cookie = cookieOf(login);
      expect(await sessions.userSessions('kim')).toHaveLength(1);
      await bed.http().get('/u/key-logout').set('Cookie', cookie).expect(200, { user: null });
      expect(await sessions.userSessions('kim')).toEqual([]);
      await bed
        .http()
        .get('/u/account')
        .set('Cookie', cookie)
        .expect(200, { account: { name: "kim's name" }, user: null });
    });

    it('setUser writes the key, so the app reads the user where it keeps it', async () => {
      const cookie = cookieOf(await bed.http().get('/u/visit').expect(200));
      await bed.http().get('/u/bind/lee').set('Cookie', cookie).expect(200);
      await bed
        .http()
        .get('/u/account')
        .set('Cookie', cookie)
        .expect(200, { account: { id: 'lee' }, user: 'lee' });
      expect(await sessions.revokeUserSessions('lee')).toBe(1);
    });

    it('a failed request that wrote the key binds nothing and stores nothing of it', async () => {
      const cookie = cookieOf(await bed.http().get('/u/visit').expect(200));
      await bed.http().get('/u/key-login-then-fail/max').set('Cookie', cookie).expect(401);
      expect(await sessions.userSessions('max')).toEqual([]);
      await bed
        .http()
        .get('/u/account')
        .set('Cookie', cookie)
        .expect(200, { account: null, user: null });
    });
  });
});
