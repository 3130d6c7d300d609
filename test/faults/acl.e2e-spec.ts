import type { INestApplication } from '@nestjs/common';
import {
  RedisSessionModule,
  SessionService,
  SessionStoreHealthIndicator,
} from '../../src/index.js';
import { SessionTestController } from '../app/session-test.controller.js';
import { UsersTestController } from '../app/users-test.controller.js';
import { Latches } from '../app/security-test.controller.js';
import { SECRET, cookieOf, createApp, idOf, request } from '../utils/app.js';
import { capturedLogs } from '../utils/quiet-logs.js';
import { startRedis, type RedisHandle } from '../utils/redis-server.js';

/**
 * The README's Redis ACL for a managed Redis, word for word: every session operation works for a
 * user allowed nothing else, on the session keys only. A command missing from the list would
 * answer 503 here.
 */
const ACL_COMMANDS =
  '+hello +auth +select +info +ping ' +
  '+hgetall +evalsha +eval +del +exists +scan +multi +exec +zadd +zrem +zrange +pexpireat ' +
  '+hset +hmget +hdel +hexists +pexpire +time';

describe('a Redis user allowed only the commands the README lists', () => {
  let redis: RedisHandle;
  let app: INestApplication;

  beforeAll(async () => {
    redis = await startRedis({ own: true });
    await redis.client.call(
      'ACL',
      'SETUSER',
      'sessions',
      'on',
      '>sessions-password',
      'resetkeys',
      `~${redis.prefix}*`,
      'resetchannels',
      '-@all',
      ...ACL_COMMANDS.split(' '),
    );
    app = await createApp('express', {
      imports: [
        RedisSessionModule.forRoot({
          secret: SECRET,
          prefix: redis.prefix,
          redis: { url: `redis://sessions:sessions-password@127.0.0.1:${redis.port}` },
          absoluteTimeout: 3600,
          rotationGrace: 5,
        }),
      ],
      controllers: [SessionTestController, UsersTestController],
      providers: [Latches],
    });
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  const http = () => request(app.getHttpServer());

  it('creates, reads, updates, times out, regenerates and ends sessions', async () => {
    const cookie = cookieOf(await http().get('/write').expect(200));
    await http().get('/write').set('Cookie', cookie).expect(200, { counter: 2 });
    await http().get('/read').set('Cookie', cookie).expect(200, { counter: 2 });
    await http().get('/timeout/600').set('Cookie', cookie).expect(200);
    const moved = cookieOf(await http().get('/regenerate').set('Cookie', cookie).expect(200));
    await http().get('/read').set('Cookie', moved).expect(200, { counter: 2 });
    await http().get('/invalidate').set('Cookie', moved).expect(200);
    expect(await redis.client.exists(redis.prefix + idOf(moved))).toBe(0);
  });

  it('binds, lists and revokes sessions by user, and administers them by id', async () => {
    const cookie = cookieOf(await http().get('/u/login/acl-user').expect(200));
    expect((await http().get('/u/devices').set('Cookie', cookie).expect(200)).body).toHaveLength(1);
    const sessions = app.get(SessionService);
    const ids: string[] = [];
    for await (const id of sessions.ids()) ids.push(id);
    expect(ids).toContain(idOf(cookie));
    expect(await sessions.exists(idOf(cookie))).toBe(true);
    expect(await sessions.revokeUserSessions('acl-user')).toBe(1);
    await http().get('/u/me').set('Cookie', cookie).expect(200, { user: null });
    const other = cookieOf(await http().get('/write').expect(200));
    expect(await sessions.destroy(idOf(other))).toBe(true);
  });

  it('answers the health check', async () => {
    const health = await app.get(SessionStoreHealthIndicator).isHealthy('sessions');
    expect(health).toMatchObject({ sessions: { status: 'up' } });
  });

  it('with a command missing, answers 503 and logs that it is the ACL, not an outage', async () => {
    await redis.client.call('ACL', 'SETUSER', 'sessions', '-hset');
    try {
      await http().get('/write').expect(503);
    } finally {
      await redis.client.call('ACL', 'SETUSER', 'sessions', '+hset');
    }
    expect(capturedLogs()).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: expect.stringContaining('the Redis user may not run a command or reach a key'),
      }),
    );
  });
});
