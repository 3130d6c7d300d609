import type { INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RedisSessionModule } from '../../src/index.js';
import { SessionTestController } from '../app/session-test.controller.js';
import { SECRET, cookieOf, createApp, request } from '../utils/app.js';
import { startRedis, type RedisHandle } from '../utils/redis-server.js';

/**
 * A client the application passes in may have no commandTimeout at all (ioredis' default): the
 * request still ends within socket_timeout, with a 503, while Redis hangs.
 */
describe('a passed-in client without a command timeout', () => {
  let redis: RedisHandle;
  let client: Redis;
  let app: INestApplication;

  beforeAll(async () => {
    redis = await startRedis({ own: true });
    client = new Redis(redis.url);
    app = await createApp('express', {
      imports: [
        RedisSessionModule.forRoot({
          secret: SECRET,
          prefix: redis.prefix,
          client,
          redis: { socketTimeout: 0.3 },
        }),
      ],
      controllers: [SessionTestController],
    });
  });

  afterAll(async () => {
    redis?.process?.kill('SIGCONT');
    await app?.close();
    client?.disconnect();
    await redis?.stop();
  });

  it('answers 503 within the budget while Redis hangs, and works again after', async () => {
    const cookie = cookieOf(await request(app.getHttpServer()).get('/write').expect(200));
    redis.process!.kill('SIGSTOP');
    const started = Date.now();
    await request(app.getHttpServer()).get('/read').set('Cookie', cookie).expect(503);
    // A generous bound that proves the wait is bounded; not a performance assertion.
    expect(Date.now() - started).toBeLessThan(300 + 1500);
    redis.process!.kill('SIGCONT');
    await request(app.getHttpServer())
      .get('/read')
      .set('Cookie', cookie)
      .expect(200, { counter: 1 });
  });
});
