import { Controller, Get, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import {
  MemorySessionStore,
  REDIS_SESSION_CLIENT,
  RedisSessionModule,
  SessionStore,
  SessionStoreHealthIndicator,
} from '../../src/index.js';
import { SessionTestController } from '../app/session-test.controller.js';
import { SECRET, cookieOf, createApp, request } from '../utils/app.js';
import { freePort, spawnRedis, stopProcess } from '../utils/redis-server.js';
import { pollUntil, timed, whenReady } from '../utils/redis-topology.js';

const SOCKET_TIMEOUT_S = 0.5;

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly sessions: SessionStoreHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.sessions.isHealthy('sessions')]);
  }
}

const moduleFor = (port: number) =>
  RedisSessionModule.forRoot({
    secret: SECRET,
    redis: { host: '127.0.0.1', port, socketTimeout: SOCKET_TIMEOUT_S },
  });

describe('the session store health indicator (@nestjs/terminus)', () => {
  it('reads up, then down within socket_timeout while Redis hangs, then up again', async () => {
    const redis = await spawnRedis();
    const app = await createApp('express', {
      imports: [moduleFor(redis.port), TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
    });
    try {
      const http = () => request(app.getHttpServer());
      const up = await http().get('/health').expect(200);
      expect(up.body.info.sessions.status).toBe('up');
      redis.process.kill('SIGSTOP');
      const down = await timed(() => http().get('/health'));
      expect(down.value.status).toBe(503);
      expect(down.value.body.error.sessions).toEqual({
        status: 'down',
        message: 'session store did not answer in time',
      });
      expect(down.ms).toBeLessThan(SOCKET_TIMEOUT_S * 1000 + 400);
      redis.process.kill('SIGCONT');
      await pollUntil(
        'the health check to read up again',
        async () => (await http().get('/health')).status === 200,
      );
    } finally {
      redis.process.kill('SIGCONT');
      await app.close();
      await stopProcess(redis.process);
    }
  });
});

describe('shutdown and test overrides', () => {
  it('app.close() resolves within 1 s when Redis was never reachable (connecting)', async () => {
    const app = await createApp('express', { imports: [moduleFor(await freePort())] });
    const { ms } = await timed(() => app.close());
    expect(ms).toBeLessThan(1000);
  });

  it('app.close() resolves within 1 s while the client reconnects after Redis died', async () => {
    const redis = await spawnRedis();
    const app = await createApp('express', {
      imports: [moduleFor(redis.port)],
      controllers: [SessionTestController],
    });
    const client = app.get<Redis>(REDIS_SESSION_CLIENT);
    await whenReady(client);
    cookieOf(await request(app.getHttpServer()).get('/write').expect(200));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await stopProcess(redis.process);
    await closed;
    const { ms } = await timed(() => app.close());
    expect(ms).toBeLessThan(1000);
    // No reconnect is left pending: a later Redis on that port sees no client of ours.
    expect((client as unknown as { reconnectTimeout: unknown }).reconnectTimeout).toBeNull();
  });

  it('app.close() resolves promptly when ready, and closes the connection it made', async () => {
    const redis = await spawnRedis();
    const app = await createApp('express', { imports: [moduleFor(redis.port)] });
    const client = app.get<Redis>(REDIS_SESSION_CLIENT);
    await whenReady(client);
    const { ms } = await timed(() => app.close());
    expect(ms).toBeLessThan(1000);
    expect(client.status).toBe('end');
    await stopProcess(redis.process);
  });

  it('overriding SessionStore with a MemorySessionStore makes no Redis client at all', async () => {
    const store = new MemorySessionStore();
    const moduleRef = await Test.createTestingModule({
      imports: [moduleFor(await freePort())],
      controllers: [SessionTestController],
    })
      .overrideProvider(SessionStore)
      .useValue(store)
      .compile();
    const app: INestApplication = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      expect(app.get(REDIS_SESSION_CLIENT)).toBeNull();
      const cookie = cookieOf(await request(app.getHttpServer()).get('/write').expect(200));
      await request(app.getHttpServer())
        .get('/read')
        .set('Cookie', cookie)
        .expect(200, { counter: 1 });
      expect(store.size).toBe(1);
    } finally {
      const { ms } = await timed(() => app.close());
      expect(ms).toBeLessThan(1000);
    }
  });
});
