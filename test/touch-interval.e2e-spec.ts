import { jest } from '@jest/globals';
import { optionProblems } from '../src/config/session-options.dto.js';
import { sessionOptionsFromSettings } from '../src/index.js';
import { ADAPTERS, cookieOf, idOf } from './utils/app.js';
import { monitor, startRedis, type RedisHandle } from './utils/redis-server.js';
import { sessionBed, type SessionBed } from './utils/sessions.js';

// Every timer stays real (supertest, ioredis); only the monotonic clock the touch windows run on
// is faked, so a window can be passed without waiting for it.
const REAL = [
  'Date',
  'hrtime',
  'nextTick',
  'queueMicrotask',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
] as const;

/**
 * `touch_interval`: a read within it of the last TTL slide is a plain HGETALL; each slide adds the
 * interval (at most a tenth of the timeout) to the TTL, so an idle session never ends before its
 * timeout; the absolute deadline stays exact.
 */
describe.each(ADAPTERS)('touch_interval on %s', (adapter) => {
  let redis: RedisHandle;
  let bed: SessionBed;
  let watch: Awaited<ReturnType<typeof monitor>>;

  beforeAll(async () => {
    redis = await startRedis({ own: true });
    // 100 s idle timeout: the default interval (60 s) is capped at a tenth, 10 s.
    bed = await sessionBed(adapter, { timeout: 100, absoluteTimeout: 3600 }, { redis });
    watch = await monitor(redis.url);
  });

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: [...REAL] });
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  afterAll(async () => {
    await watch?.close();
    await bed?.close();
    await redis?.stop();
  });

  async function trips(path: string, cookie: string): Promise<string[]> {
    await watch.settle();
    watch.clear();
    await bed.http().get(path).set('Cookie', cookie).expect(200);
    await watch.settle();
    return watch.tripNames(redis.prefix);
  }

  it('reads with a plain HGETALL inside the window, and slides (with the slack) once it has passed', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const key = bed.key(idOf(cookie));
    // Created with the slack: never before the 100 s timeout, at most 10 s after it.
    expect(await redis.client.pttl(key)).toBeGreaterThan(100_000);
    expect(await redis.client.pttl(key)).toBeLessThanOrEqual(110_000);
    await redis.client.pexpire(key, 105_000);
    expect(await trips('/read', cookie)).toEqual(['hgetall']);
    expect(await redis.client.pttl(key)).toBeLessThanOrEqual(105_000);
    jest.advanceTimersByTime(10_001);
    expect(await trips('/read', cookie)).toEqual(['script']);
    expect(await redis.client.pttl(key)).toBeGreaterThan(105_000);
    expect(await trips('/read', cookie)).toEqual(['hgetall']);
  });

  it('a write slides the TTL and opens a window, so the next read sends a plain HGETALL', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    jest.advanceTimersByTime(10_001);
    expect(await trips('/write', cookie)).toEqual(['script', 'script']);
    expect(await trips('/read', cookie)).toEqual(['hgetall']);
  });

  it('a write inside the window leaves the TTL to the slide that opened it; past the window it slides again', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const key = bed.key(idOf(cookie));
    const slid = () => watch.all.some((c) => c.source === 'lua' && c.name === 'pexpire');
    await redis.client.pexpire(key, 105_000);
    expect(await trips('/write', cookie)).toEqual(['hgetall', 'script']);
    expect(slid()).toBe(false);
    expect(await redis.client.hget(key, 'counter')).toBe('2');
    expect(await redis.client.pttl(key)).toBeLessThanOrEqual(105_000);
    jest.advanceTimersByTime(10_001);
    expect(await trips('/write', cookie)).toEqual(['script', 'script']);
    expect(slid()).toBe(true);
    expect(await redis.client.pttl(key)).toBeGreaterThan(105_000);
    // The window this write's read opened holds for the next write, which only writes.
    expect(await trips('/write', cookie)).toEqual(['hgetall', 'script']);
    expect(slid()).toBe(false);
  });

  it('a write that sets a new timeout slides the TTL to it, inside the window too', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const key = bed.key(idOf(cookie));
    await bed.http().get('/timeout/50').set('Cookie', cookie).expect(200);
    const ttl = await redis.client.pttl(key);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(55_000);
  });

  it('a deadline inside the window is checked by the script: the TTL never passes it, and past it the session is gone', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const key = bed.key(idOf(cookie));
    await redis.client.hset(key, '$a', String(Date.now() + 5_000));
    expect(await trips('/read', cookie)).toEqual(['hgetall', 'script']);
    expect(await redis.client.pttl(key)).toBeLessThanOrEqual(5_000);
    await redis.client.hset(key, '$a', String(Date.now() - 1));
    await bed.http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
    expect(await redis.client.exists(key)).toBe(0);
  });

  it('a timeout changed by another process since the slide is slid after all, with its own slack', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const key = bed.key(idOf(cookie));
    // What adjustTimeout(20) in another app process leaves behind.
    await redis.client.hset(key, '$t', '20');
    await redis.client.pexpire(key, 22_000);
    expect(await trips('/read', cookie)).toEqual(['hgetall', 'script']);
    const ttl = await redis.client.pttl(key);
    expect(ttl).toBeGreaterThan(20_000);
    expect(ttl).toBeLessThanOrEqual(22_000);
  });

  it('meta fields planted after a slide are still refused: a fresh session, not a 500', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    await redis.client.hset(bed.key(idOf(cookie)), '$t', '1e20');
    const res = await bed.http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
    expect(res.status).toBe(200);
  });
});

describe('touch_interval 0', () => {
  let redis: RedisHandle;
  let bed: SessionBed;
  let watch: Awaited<ReturnType<typeof monitor>>;

  beforeAll(async () => {
    redis = await startRedis({ own: true });
    bed = await sessionBed('express', { touchInterval: 0 }, { redis });
    watch = await monitor(redis.url);
  });

  afterAll(async () => {
    await watch?.close();
    await bed?.close();
    await redis?.stop();
  });

  it('slides on every read, to exactly the timeout', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const key = bed.key(idOf(cookie));
    expect(await redis.client.pttl(key)).toBeLessThanOrEqual(1_200_000);
    for (let i = 0; i < 2; i++) {
      await redis.client.pexpire(key, 5_000);
      await watch.settle();
      watch.clear();
      await bed.http().get('/read').set('Cookie', cookie).expect(200, { counter: 1 });
      await watch.settle();
      // The load script (EVAL the first time on a connection, EVALSHA after).
      expect(watch.roundTrips(redis.prefix).map((c) => c.name.replace('evalsha', 'eval'))).toEqual([
        'eval',
      ]);
      expect(await redis.client.pttl(key)).toBeGreaterThan(1_190_000);
      expect(await redis.client.pttl(key)).toBeLessThanOrEqual(1_200_000);
    }
  });
});

describe('touch_interval at boot', () => {
  it('is at most a tenth of the timeout, named as the user wrote it', () => {
    expect(optionProblems({ secret: 's'.repeat(32), timeout: 300, touchInterval: 31 })).toEqual([
      'touchInterval must be at most a tenth of timeout (30 s)',
    ]);
    expect(optionProblems({ secret: 's'.repeat(32), touchInterval: -1 }).join('\n')).toMatch(
      /touchInterval must be a number of seconds >= 0/,
    );
    const settings = { REDIS_SESSIONS_SECRET: 's'.repeat(32), REDIS_SESSIONS_TOUCH_INTERVAL: '15' };
    expect(sessionOptionsFromSettings(settings).touchInterval).toBe(15);
  });
});
