import { SessionStore, RedisSessionStore, sessionOptionsFromSettings } from '../src/index.js';
import { optionProblems } from '../src/config/session-options.dto.js';
import { ADAPTERS, cookieOf, idOf } from './utils/app.js';
import { monitor, startRedis, type RedisHandle } from './utils/redis-server.js';
import { sessionBed, type SessionBed } from './utils/sessions.js';

const nearCacheOf = (bed: SessionBed) => {
  const store = bed.app.get(SessionStore);
  if (!(store instanceof RedisSessionStore) || store.nearCache === undefined)
    throw new Error('no near cache');
  return store.nearCache;
};

/**
 * `nearCache`: reads inside touch_interval send nothing, and a change made by another app
 * instance (its own connections, as another process has) is seen on the very next request.
 */
describe.each(ADAPTERS)('near cache on %s', (adapter) => {
  let redis: RedisHandle;
  let a: SessionBed;
  let b: SessionBed;
  let watch: Awaited<ReturnType<typeof monitor>>;

  beforeAll(async () => {
    redis = await startRedis({ own: true });
    a = await sessionBed(adapter, { nearCache: 100 }, { redis });
    b = await sessionBed(adapter, { nearCache: 100 }, { redis });
    await Promise.all([nearCacheOf(a).whenServing(), nearCacheOf(b).whenServing()]);
    watch = await monitor(redis.url);
  });

  afterAll(async () => {
    await watch?.close();
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  async function trips(bed: SessionBed, path: string, cookie: string): Promise<string[]> {
    await watch.settle();
    watch.clear();
    await bed.http().get(path).set('Cookie', cookie).expect(200);
    await watch.settle();
    return watch.tripNames(redis.prefix);
  }

  /**
   * A session created in `a` and held by `b`: b's first read slides the TTL (its own change, so
   * nothing is kept), its second stores the copy, its third is served from it.
   */
  async function sharedSession(): Promise<string> {
    const cookie = cookieOf(await a.http().get('/write'));
    expect(await trips(b, '/read', cookie)).toEqual(['script']);
    expect(await trips(b, '/read', cookie)).toEqual(['hgetall']);
    expect(await trips(b, '/read', cookie)).toEqual([]);
    return cookie;
  }

  it('reads a session it holds with no round trip, and writes with one', async () => {
    const cookie = cookieOf(await a.http().get('/write'));
    expect(await trips(a, '/read', cookie)).toEqual(['hgetall']);
    expect(await trips(a, '/read', cookie)).toEqual([]);
    expect(await trips(a, '/write', cookie)).toEqual(['script']);
    // Its own write drops its copy: the next read fetches the session again, then holds it.
    await watch.settle();
    watch.clear();
    await a.http().get('/read').set('Cookie', cookie).expect(200, { counter: 2 });
    await watch.settle();
    expect(watch.tripNames(redis.prefix)).toEqual(['hgetall']);
    expect(await trips(a, '/read', cookie)).toEqual([]);
  });

  it('a logout in the other instance: its very next request here answers logged out', async () => {
    const cookie = await sharedSession();
    await a.http().get('/invalidate').set('Cookie', cookie).expect(200);
    await b.http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
  });

  it('a write in the other instance is read on the very next request here', async () => {
    const cookie = await sharedSession();
    await a.http().get('/write').set('Cookie', cookie).expect(200, { counter: 2 });
    await b.http().get('/read').set('Cookie', cookie).expect(200, { counter: 2 });
  });

  it('a regenerate in the other instance retires the old id here too', async () => {
    const cookie = await sharedSession();
    await a.http().get('/regenerate').set('Cookie', cookie).expect(200);
    await b.http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
  });

  it('a change made straight in Redis (another app, redis-cli) is read on the next request', async () => {
    const cookie = await sharedSession();
    await redis.client.hset(b.key(idOf(cookie)), 'counter', '41');
    await b.http().get('/read').set('Cookie', cookie).expect(200, { counter: 41 });
  });

  it('a dropped invalidation connection forgets every copy, and nothing is served until it is back', async () => {
    const cookie = await sharedSession();
    const cache = nearCacheOf(b);
    expect(cache.size).toBeGreaterThan(0);
    await redis.client.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    // Written while no invalidation could reach b.
    await redis.client.hset(b.key(idOf(cookie)), 'counter', '7');
    await b.http().get('/read').set('Cookie', cookie).expect(200, { counter: 7 });
    await Promise.all([nearCacheOf(a).whenServing(), cache.whenServing()]);
    await b.http().get('/read').set('Cookie', cookie).expect(200, { counter: 7 });
    expect(await trips(b, '/read', cookie)).toEqual([]);
  });
});

describe('near cache bounds', () => {
  let redis: RedisHandle;
  let bed: SessionBed;

  beforeAll(async () => {
    redis = await startRedis();
    bed = await sessionBed('fastify', { nearCache: 3 }, { redis });
    await nearCacheOf(bed).whenServing();
  });

  afterAll(async () => {
    await bed?.close();
    await redis?.stop();
  });

  it('keeps at most nearCache sessions', async () => {
    for (let i = 0; i < 6; i++) {
      const cookie = cookieOf(await bed.http().get('/write'));
      await bed.http().get('/read').set('Cookie', cookie).expect(200, { counter: 1 });
    }
    expect(nearCacheOf(bed).size).toBe(3);
  });
});

describe('nearCache at boot', () => {
  const secret = 'x'.repeat(32);

  it('names what it cannot work with, as the user wrote it', () => {
    expect(optionProblems({ secret, nearCache: 10, touchInterval: 0 })).toContain(
      'nearCache needs touchInterval > 0 (it serves reads inside it)',
    );
    expect(
      optionProblems({
        secret,
        nearCache: 10,
        redis: { clusterNodes: [{ host: '127.0.0.1', port: 7000 }] },
      }),
    ).toContain('nearCache is not available with redis.clusterNodes');
    expect(optionProblems({ secret, nearCache: -1 })).toEqual([
      'nearCache must be a number of sessions >= 0, got -1',
    ]);
  });

  it('reads near_cache from the settings', () => {
    const settings = { REDIS_SESSIONS_SECRET: secret, REDIS_SESSIONS_NEAR_CACHE: '500' };
    expect(sessionOptionsFromSettings(settings).nearCache).toBe(500);
  });
});
