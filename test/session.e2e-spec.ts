import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import {
  MemorySessionStore,
  RedisSessionModule,
  type RedisSessionModuleOptions,
} from '../src/index.js';
import { SessionReadingGuard, SessionTestController } from './app/session-test.controller.js';
import {
  ADAPTERS,
  SECRET,
  cookieOf,
  createApp,
  idOf,
  request,
  setCookies,
  signedCookie,
} from './utils/app.js';
import { startRedis, type RedisHandle } from './utils/redis-server.js';

/** What a spec may ask of the store underneath, whichever it is. */
interface StoreProbe {
  fields(id: string): Promise<Record<string, string>>;
  pttl(id: string): Promise<number>;
  exists(id: string): Promise<boolean>;
}

const STORES = ['redis', 'memory'] as const;

describe.each(ADAPTERS)('sessions on %s', (adapter) => {
  describe.each(STORES)('with the %s store', (storeName) => {
    let redis: RedisHandle | undefined;
    let app: INestApplication;
    let probe: StoreProbe;
    let http: () => ReturnType<typeof request>;

    beforeAll(async () => {
      let options: RedisSessionModuleOptions;
      if (storeName === 'redis') {
        redis = await startRedis();
        const client: Redis = redis.client;
        const prefix = redis.prefix;
        options = { secret: SECRET, prefix, redis: { url: redis.url } };
        probe = {
          fields: async (id) => client.hgetall(prefix + id),
          pttl: async (id) => client.pttl(prefix + id),
          exists: async (id) => (await client.exists(prefix + id)) === 1,
        };
      } else {
        const store = new MemorySessionStore();
        options = { secret: SECRET, store };
        probe = {
          fields: async (id) => Object.fromEntries(store.fields(id) ?? []),
          pttl: async (id) => store.pttl(id),
          exists: async (id) => store.exists(id),
        };
      }
      app = await createApp(adapter, {
        imports: [RedisSessionModule.forRoot(options)],
        controllers: [SessionTestController],
        providers: [SessionReadingGuard],
      });
      http = () => request(app.getHttpServer());
    });

    afterAll(async () => {
      await app?.close();
      await redis?.stop();
    });

    it('sets no cookie and stores nothing for a request that does not write', async () => {
      const res = await http().get('/read').expect(200, { counter: null });
      expect(setCookies(res)).toEqual([]);
    });

    it('creates a session on first write, with a signed cookie and secure defaults', async () => {
      const res = await http().get('/write').expect(200, { counter: 1 });
      const [header] = setCookies(res);
      expect(header).toMatch(
        /^session=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/,
      );
      const id = idOf(cookieOf(res));
      const fields = await probe.fields(id);
      expect(fields.counter).toBe('1');
      expect(Number(fields.$c)).toBeGreaterThan(0);
      // The idle timeout (20 min) plus the default touch_interval slack (60 s).
      const ttl = await probe.pttl(id);
      expect(ttl).toBeGreaterThan(1_250_000);
      expect(ttl).toBeLessThanOrEqual(1_260_000);
    });

    it('reads back what an earlier request wrote, and sets no cookie on a read', async () => {
      const cookie = cookieOf(await http().get('/write'));
      const res = await http().get('/read').set('Cookie', cookie).expect(200, { counter: 1 });
      expect(setCookies(res)).toEqual([]);
      await http().get('/write').set('Cookie', cookie).expect(200, { counter: 2 });
      await http().get('/read-key').set('Cookie', cookie).expect(200, { counter: 2 });
    });

    it('a large value is saved when mutated in place, kept when untouched, and survives delete, re-add and regenerate', async () => {
      let cookie = '';
      for (let i = 0; i < 12; i++) {
        const res = await http().get('/push/x').set('Cookie', cookie).expect(200);
        cookie ||= cookieOf(res);
      }
      const cart = () => probe.fields(idOf(cookie)).then((f) => JSON.parse(f.cart).items.length);
      // {"items":["item",…]} is over 64 characters: handed out through an accessor.
      expect(await cart()).toBe(12);
      await http().get('/set/extra/1').set('Cookie', cookie).expect(200);
      expect(await cart()).toBe(12);
      await http()
        .get('/push/x')
        .set('Cookie', cookie)
        .expect(200, { items: Array(13).fill('item') });
      expect(await cart()).toBe(13);
      await http().get('/delete/cart').set('Cookie', cookie).expect(200);
      expect((await probe.fields(idOf(cookie))).cart).toBeUndefined();
      await http()
        .get('/push/x')
        .set('Cookie', cookie)
        .expect(200, { items: ['item'] });
      for (let i = 0; i < 12; i++) await http().get('/push/x').set('Cookie', cookie).expect(200);
      const renewed = cookieOf(await http().get('/regenerate').set('Cookie', cookie).expect(200));
      cookie = renewed;
      expect(await cart()).toBe(13);
      await http()
        .get('/dump')
        .set('Cookie', cookie)
        .expect(200)
        .expect((res) => {
          expect(res.body.data).toEqual({ cart: { items: Array(13).fill('item') }, extra: '1' });
        });
    });

    it('case 48: persists nested mutation and deletes without any extra call', async () => {
      const cookie = cookieOf(await http().get('/push/a'));
      await http()
        .get('/push/b')
        .set('Cookie', cookie)
        .expect(200, { items: ['item', 'item'] });
      const id = idOf(cookie);
      expect(JSON.parse((await probe.fields(id)).cart)).toEqual({ items: ['item', 'item'] });
      await http().get('/set/extra/1').set('Cookie', cookie).expect(200);
      expect((await probe.fields(id)).extra).toBe('"1"');
      await http().get('/delete/extra').set('Cookie', cookie).expect(200);
      expect((await probe.fields(id)).extra).toBeUndefined();
    });

    it('a per-session timeout is the TTL (plus its touch slack, a tenth), and a read keeps it', async () => {
      const cookie = cookieOf(await http().get('/set/a/b'));
      const id = idOf(cookie);
      await http().get('/timeout/5').set('Cookie', cookie).expect(200);
      expect(await probe.pttl(id)).toBeLessThanOrEqual(5500);
      expect((await probe.fields(id)).$t).toBe('5');
      await http().get('/timeout/100').set('Cookie', cookie).expect(200);
      const before = await probe.pttl(id);
      expect(before).toBeGreaterThan(5500);
      expect(before).toBeLessThanOrEqual(110_000);
      await http().get('/read').set('Cookie', cookie).expect(200);
      expect(await probe.pttl(id)).toBeGreaterThan(99_000);
    });

    it('persistCookie makes the cookie outlive the browser for the session timeout, until turned off', async () => {
      const cookie = cookieOf(await http().get('/set/a/b'));
      expect(setCookies(await http().get('/read').set('Cookie', cookie))).toEqual([]);
      const remember = await http().get('/remember/3600').set('Cookie', cookie).expect(200);
      expect(setCookies(remember)).toEqual([expect.stringContaining('Max-Age=3600;')]);
      const id = idOf(cookie);
      expect((await probe.fields(id)).$p).toBe('true');
      expect(await probe.pttl(id)).toBeGreaterThan(3_500_000);
      // Sent again as the session slides, and kept across a regenerate.
      const read = await http().get('/read').set('Cookie', cookie).expect(200);
      expect(setCookies(read)).toEqual([expect.stringContaining('Max-Age=3600;')]);
      const regenerated = await http().get('/regenerate').set('Cookie', cookie).expect(200);
      expect(setCookies(regenerated)).toEqual([expect.stringContaining('Max-Age=3600;')]);
      const moved = cookieOf(regenerated);

      const forget = await http().get('/forget').set('Cookie', moved).expect(200);
      expect(setCookies(forget)).toEqual([expect.not.stringContaining('Max-Age')]);
      expect((await probe.fields(idOf(moved))).$p).toBeUndefined();
      expect(setCookies(await http().get('/read').set('Cookie', moved))).toEqual([]);
    });

    it('gives a fresh session with a new id for unsigned, forged, malformed and unknown cookies', async () => {
      const real = cookieOf(await http().get('/write'));
      const realId = idOf(real);
      const bad = [
        `session=${realId}`,
        `session=${realId}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
        `${real}x`,
        `${real}.extra`,
        'session=%%%',
        'session=',
        signedCookie('A'.repeat(43)),
      ];
      for (const cookie of bad) {
        const res = await http().get('/dump').set('Cookie', cookie).expect(200);
        expect(res.body.isNew).toBe(true);
        expect(res.body.data).toEqual({});
        expect(res.body.id).not.toBe(realId);
        expect(setCookies(res)).toEqual([]);
      }
      const written = await http()
        .get('/write')
        .set('Cookie', signedCookie('B'.repeat(43)))
        .expect(200, { counter: 1 });
      expect(idOf(cookieOf(written))).not.toBe('B'.repeat(43));
      expect(await probe.exists('B'.repeat(43))).toBe(false);
    });

    it('invalidate deletes the session and expires the cookie with one Set-Cookie', async () => {
      const cookie = cookieOf(await http().get('/write'));
      const id = idOf(cookie);
      const res = await http().get('/invalidate').set('Cookie', cookie).expect(200);
      const headers = setCookies(res);
      expect(headers).toHaveLength(1);
      expect(headers[0]).toMatch(
        /^session=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/,
      );
      expect(await probe.exists(id)).toBe(false);
      await http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
    });

    it('invalidate then write sends exactly one Set-Cookie, for the new session', async () => {
      const cookie = cookieOf(await http().get('/write'));
      const res = await http().get('/invalidate-then-write').set('Cookie', cookie).expect(200);
      const headers = setCookies(res);
      expect(headers).toHaveLength(1);
      const next = cookieOf(res);
      expect(idOf(next)).toBe(res.body.id);
      expect(idOf(next)).not.toBe(idOf(cookie));
      expect(await probe.exists(idOf(cookie))).toBe(false);
      const fields = await probe.fields(idOf(next));
      expect(fields.after).toBe('"logout"');
      expect(fields.counter).toBeUndefined();
    });

    it('regenerate keeps the data under a new id and kills the old one', async () => {
      const cookie = cookieOf(await http().get('/write'));
      const res = await http().get('/regenerate').set('Cookie', cookie).expect(200);
      const next = cookieOf(res);
      expect(idOf(next)).toBe(res.body.id);
      expect(await probe.exists(idOf(cookie))).toBe(false);
      await http().get('/read').set('Cookie', next).expect(200, { counter: 1 });
      await http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
    });

    it('regenerate twice in one request leaves only the last id', async () => {
      const cookie = cookieOf(await http().get('/write'));
      const res = await http().get('/regenerate-twice').set('Cookie', cookie).expect(200);
      expect(idOf(cookieOf(res))).toBe(res.body.id);
      expect(await probe.exists(res.body.first)).toBe(false);
      expect(await probe.exists(idOf(cookie))).toBe(false);
      expect(await probe.exists(res.body.id)).toBe(true);
    });

    it('case 30: a guard gets the same session object as the handler', async () => {
      const res = await http().get('/guarded').expect(200, { same: true });
      const id = idOf(cookieOf(res));
      expect((await probe.fields(id)).guarded).toBe('true');
    });

    it('commits a session loaded by hand in a handler without @Session()', async () => {
      const res = await http().get('/load-in-handler').expect(200);
      expect((await probe.fields(idOf(cookieOf(res)))).loadedByHand).toBe('true');
    });

    it('case 49: commits before a redirect is sent, so the next request sees the value', async () => {
      const res = await http().get('/redirect').expect(302);
      await http().get('/read').set('Cookie', cookieOf(res)).expect(200, { counter: 42 });
    });

    it('case 30: persists on 4xx and 5xx when cookie_on_exception is on (the default)', async () => {
      for (const status of [400, 500]) {
        const res = await http().get(`/throw/${status}`).expect(status);
        expect((await probe.fields(idOf(cookieOf(res)))).beforeThrow).toBe(`"${status}"`);
      }
    });

    it('fails a commit with a value that cannot be serialized: 500, nothing written', async () => {
      const cookie = cookieOf(await http().get('/write'));
      for (const route of ['/bigint', '/cycle']) {
        const res = await http().get(route).set('Cookie', cookie).expect(500);
        expect(setCookies(res)).toEqual([]);
      }
      const fields = await probe.fields(idOf(cookie));
      expect(fields.fine).toBeUndefined();
      expect(fields.counter).toBe('1');
      const fresh = await http().get('/bigint').expect(500);
      expect(setCookies(fresh)).toEqual([]);
    });

    it('adjustTimeout rejects NaN, negative and infinite values', async () => {
      for (const value of ['NaN', '-1', 'Infinity']) {
        await http().get(`/timeout/${value}`).expect(500);
      }
    });
  });
});
