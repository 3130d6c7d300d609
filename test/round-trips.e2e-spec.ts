import type { INestApplication } from '@nestjs/common';
import { RedisSessionModule } from '../src/index.js';
import { SessionTestController } from './app/session-test.controller.js';
import { ADAPTERS, SECRET, cookieOf, createApp, request, signedCookie } from './utils/app.js';
import { monitor, startRedis, type RedisHandle } from './utils/redis-server.js';

/**
 * The round-trip budget of DESIGN.md, counted on Redis itself (MONITOR): commands a script runs
 * inside Redis are not round trips and are left out.
 */
describe.each(ADAPTERS)('Redis round trips per request on %s', (adapter) => {
  let redis: RedisHandle;
  let app: INestApplication;
  let watch: Awaited<ReturnType<typeof monitor>>;

  beforeAll(async () => {
    redis = await startRedis({ own: true });
    app = await createApp(adapter, {
      imports: [
        RedisSessionModule.forRoot({
          secret: SECRET,
          prefix: redis.prefix,
          redis: { url: redis.url },
        }),
      ],
      controllers: [SessionTestController],
    });
    watch = await monitor(redis.url);
  });

  afterAll(async () => {
    await watch?.close();
    await app?.close();
    await redis?.stop();
  });

  async function count(path: string, cookie?: string): Promise<string[]> {
    await watch.settle();
    watch.clear();
    const req = request(app.getHttpServer()).get(path);
    if (cookie) req.set('Cookie', cookie);
    await req.expect((res) => expect(res.status).toBeLessThan(400));
    await watch.settle();
    // ioredis sends a script's body once per connection (EVAL), then its SHA (EVALSHA): one round trip either way.
    return watch
      .roundTrips(redis.prefix)
      .map((c) => (c.name === 'eval' || c.name === 'evalsha' ? 'script' : c.name));
  }

  it('spends 0 on a route that never touches the session, even with a cookie', async () => {
    const cookie = cookieOf(await request(app.getHttpServer()).get('/write'));
    expect(await count('/none', cookie)).toEqual([]);
  });

  it('spends 0 on a request without a cookie whose handler does not write', async () => {
    expect(await count('/read')).toEqual([]);
  });

  it('spends 0 on a request with a forged or unknown-format cookie', async () => {
    expect(await count('/read', `session=${'x'.repeat(43)}.${'y'.repeat(43)}`)).toEqual([]);
    expect(await count('/read', 'session=garbage')).toEqual([]);
  });

  it('spends 1 on a read: one script reads the hash and slides the TTL', async () => {
    const cookie = cookieOf(await request(app.getHttpServer()).get('/write'));
    expect(await count('/read', cookie)).toEqual(['script']);
  });

  it('spends 1 on a validly signed cookie naming no session, then nothing more', async () => {
    expect(await count('/read', signedCookie('Q'.repeat(43)))).toEqual(['script']);
  });

  it('spends 2 on a write: the load, then the delta', async () => {
    const cookie = cookieOf(await request(app.getHttpServer()).get('/write'));
    expect(await count('/write', cookie)).toEqual(['script', 'script']);
  });

  it('spends 1 on a new session', async () => {
    expect(await count('/write')).toEqual(['script']);
  });

  it('spends 1 on a read that changes nothing, even after nested values were written', async () => {
    const cookie = cookieOf(await request(app.getHttpServer()).get('/push/x'));
    expect(await count('/read', cookie)).toEqual(['script']);
  });
});
