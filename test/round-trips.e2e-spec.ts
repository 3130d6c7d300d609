import { ADAPTERS, cookieOf, signedCookie } from './utils/app.js';
import { monitor, startRedis, type RedisHandle } from './utils/redis-server.js';
import { sessionBed, type SessionBed } from './utils/sessions.js';

/**
 * The round-trip budget of DESIGN.md, counted on Redis itself (MONITOR): commands a script runs
 * inside Redis are not round trips and are left out.
 */
describe.each(ADAPTERS)('Redis round trips per request on %s', (adapter) => {
  let redis: RedisHandle;
  let bed: SessionBed;
  let watch: Awaited<ReturnType<typeof monitor>>;

  beforeAll(async () => {
    redis = await startRedis({ own: true });
    // A Redis of its own: MONITOR must see only this app's commands.
    bed = await sessionBed(adapter, {}, { redis });
    watch = await monitor(redis.url);
  });

  afterAll(async () => {
    await watch?.close();
    await bed?.close();
    await redis?.stop();
  });

  async function count(path: string, cookie?: string): Promise<string[]> {
    await watch.settle();
    watch.clear();
    const req = bed.http().get(path);
    if (cookie) req.set('Cookie', cookie);
    await req.expect((res) => expect(res.status).toBeLessThan(400));
    await watch.settle();
    return watch.tripNames(redis.prefix);
  }

  it('spends 0 on a route that never touches the session, even with a cookie', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    expect(await count('/none', cookie)).toEqual([]);
  });

  it('spends 0 on a request without a cookie whose handler does not write', async () => {
    expect(await count('/read')).toEqual([]);
  });

  it('spends 0 on a request with a forged or unknown-format cookie', async () => {
    expect(await count('/read', `session=${'x'.repeat(43)}.${'y'.repeat(43)}`)).toEqual([]);
    expect(await count('/read', 'session=garbage')).toEqual([]);
  });

  it('spends 1 on a read: a plain HGETALL, the TTL having been slid within touch_interval', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    expect(await count('/read', cookie)).toEqual(['hgetall']);
  });

  it('spends 1 on a validly signed cookie naming no session, then nothing more', async () => {
    expect(await count('/read', signedCookie('Q'.repeat(43)))).toEqual(['script']);
  });

  it('spends 2 on a write: the load, then the delta', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    expect(await count('/write', cookie)).toEqual(['hgetall', 'script']);
  });

  it('spends 1 on a new session', async () => {
    expect(await count('/write')).toEqual(['script']);
  });

  it('spends 1 on a read that changes nothing, even after nested values were written', async () => {
    const cookie = cookieOf(await bed.http().get('/push/x'));
    expect(await count('/read', cookie)).toEqual(['hgetall']);
  });
});
