import type { INestApplication } from '@nestjs/common';
import { RedisSessionModule } from '../../src/index.js';
import { SessionTestController } from '../app/session-test.controller.js';
import { ADAPTERS, SECRET, cookieOf, createApp, idOf, request, setCookies } from '../utils/app.js';
import { startRedis, type RedisHandle } from '../utils/redis-server.js';
import { listen } from '../utils/redis-topology.js';

/**
 * Case 45: maxmemory with noeviction. Once Redis refuses writes (OOM), a commit must fail
 * visibly (an error status, no cookie) and every 2xx must correspond to data really stored.
 */

const VALUE = 'x'.repeat(8 * 1024);
/** 8 kB per session: 2 MB is full long before this many. */
const MAX_SESSIONS = 600;

describe.each(ADAPTERS)('memory pressure (maxmemory 2mb, noeviction) on %s', (adapter) => {
  let redis: RedisHandle;
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    redis = await startRedis({
      own: true,
      args: ['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction'],
    });
    app = await createApp(adapter, {
      imports: [
        RedisSessionModule.forRoot({
          secret: SECRET,
          prefix: redis.prefix,
          redis: { url: redis.url, socketTimeout: 1 },
        }),
      ],
      controllers: [SessionTestController],
    });
    base = await listen(app);
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('surfaces the failed commit as an error response and never reports a write that did not happen', async () => {
    const stored: string[] = [];
    let failure: request.Response | undefined;
    // POST /set answers 201 when the commit succeeded.
    for (let i = 0; i < MAX_SESSIONS && failure === undefined; i++) {
      const res = await request(base).post('/set').send({ blob: VALUE });
      if (res.status === 201) stored.push(cookieOf(res));
      else failure = res;
    }
    const info = await redis.client.info('memory');
    console.log(
      `[${adapter}] ${stored.length} sessions of 8 kB stored before the first failure (${failure?.status}); ` +
        `${/used_memory_human:(\S+)/.exec(info)?.[1]} used`,
    );
    expect(failure).toBeDefined();
    expect([500, 503]).toContain(failure!.status);
    expect(setCookies(failure!)).toEqual([]);
    expect(failure!.text).not.toMatch(/OOM|maxmemory|redis/i);
    expect(stored.length).toBeGreaterThan(0);

    // Every success is really in Redis, with the value it claimed to store.
    const pipeline = redis.client.pipeline();
    for (const cookie of stored) pipeline.hget(redis.prefix + idOf(cookie), 'blob');
    const values = (await pipeline.exec())!.map(([, value]) => value);
    expect(values.every((value) => value === JSON.stringify(VALUE))).toBe(true);

    // Writing to an existing session fails the same way; reading it still works (no write needed).
    const update = await request(base).post('/set').send({ more: VALUE }).set('Cookie', stored[0]);
    expect([500, 503]).toContain(update.status);
    expect(await redis.client.hexists(redis.prefix + idOf(stored[0]), 'more')).toBe(0);
    await request(base).get('/dump').set('Cookie', stored[0]).expect(200);
  });
});
