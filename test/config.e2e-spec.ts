import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import {
  InvalidSessionOptionsError,
  REDIS_SESSION_CLIENT,
  RedisSessionModule,
  SessionService,
  type RedisSessionModuleOptions,
  type RedisSessionOptionsFactory,
} from '../src/index.js';
import { SessionTestController } from './app/session-test.controller.js';
import { SECRET, cookieOf, createApp, idOf, request } from './utils/app.js';
import { startRedis, type RedisHandle } from './utils/redis-server.js';

describe('configuring RedisSessionModule', () => {
  let redis: RedisHandle;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  async function roundTrip(app: INestApplication, prefix: string, cookieName = 'session') {
    apps.push(app);
    const first = await request(app.getHttpServer()).get('/write').expect(200, { counter: 1 });
    const cookie = cookieOf(first, cookieName);
    await request(app.getHttpServer())
      .get('/read')
      .set('Cookie', cookie)
      .expect(200, { counter: 1 });
    expect(await redis.client.hget(prefix + idOf(cookie), 'counter')).toBe('1');
  }

  it('forRoot() reads REDIS_SESSIONS_* from the environment when the app boots', async () => {
    const prefix = `${redis.prefix}env:`;
    const saved = { ...process.env };
    Object.assign(process.env, {
      REDIS_SESSIONS_SECRET: SECRET,
      REDIS_SESSIONS_URL: redis.url,
      REDIS_SESSIONS_PREFIX: prefix,
      REDIS_SESSIONS_COOKIE_NAME: 'envsid',
    });
    try {
      const app = await createApp('express', {
        imports: [RedisSessionModule.forRoot()],
        controllers: [SessionTestController],
      });
      await roundTrip(app, prefix, 'envsid');
    } finally {
      process.env = saved;
    }
  });

  it('forRoot() with bad environment settings fails at boot, naming each problem', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { REDIS_SESSIONS_SECRET: 'short', REDIS_SESSIONS_TIMEOUT: 'later' });
    try {
      const boot = Test.createTestingModule({ imports: [RedisSessionModule.forRoot()] }).compile();
      await expect(boot).rejects.toThrow(InvalidSessionOptionsError);
      await expect(boot).rejects.toThrow(/REDIS_SESSIONS_SECRET must be at least 32/);
      await expect(boot).rejects.toThrow(/REDIS_SESSIONS_TIMEOUT must be a whole number/);
    } finally {
      process.env = saved;
    }
  });

  it('forRoot(options) with bad options fails at boot, naming each problem', async () => {
    const boot = Test.createTestingModule({
      imports: [
        RedisSessionModule.forRoot({
          secret: 'x',
          timeout: -1,
          cookie: { name: 'a b', sameSite: 'none', secure: false },
        }),
      ],
    }).compile();
    await expect(boot).rejects.toThrow(
      /secret must be at least 32[\s\S]*timeout must be a positive number[\s\S]*cookie\.name must be a cookie-name token[\s\S]*none needs cookie\.secure/,
    );
  });

  it('Sentinel and Cluster nodes given in code as the settings text are named as such', async () => {
    const boot = Test.createTestingModule({
      imports: [
        RedisSessionModule.forRoot({
          secret: SECRET,
          redis: { sentinels: 'a:26379,b:26379' as never, sentinelName: 'mymaster' },
        }),
      ],
    }).compile();
    await expect(boot).rejects.toThrow(
      'redis.sentinels must be an array of { host, port } in code, got the text "a:26379,b:26379" (the host:port,… form is for settings)',
    );
  });

  it('options from an untyped factory: unknown names (nested too) fail at boot, with the likely one', async () => {
    const untyped: Record<string, unknown> = {
      secret: 'short',
      timeout: 'later',
      cookie: { samSite: 'strict' },
      redis: { prot: 6380 },
      bogus: true,
    };
    const boot = Test.createTestingModule({
      imports: [
        RedisSessionModule.forRootAsync({
          useFactory: () => untyped as unknown as RedisSessionModuleOptions,
        }),
      ],
    }).compile();
    await expect(boot).rejects.toThrow(InvalidSessionOptionsError);
    const message = await boot.then(
      () => '',
      (error: Error) => error.message,
    );
    expect(message).toContain('5 problem(s)');
    expect(message).toContain('bogus is not a known option (known: secret, ');
    expect(message).toContain(
      'cookie.samSite is not a known option: did you mean cookie.sameSite?',
    );
    expect(message).toContain('redis.prot is not a known option: did you mean redis.port?');
    expect(message).toContain('timeout must be a positive number, got "later"');
    // A secret is never quoted back.
    expect(message).toMatch(/secret must be at least 32 characters/);
    expect(message).not.toContain('"short"');
  });

  it('forRootAsync with useFactory and @nestjs/config', async () => {
    const prefix = `${redis.prefix}factory:`;
    const app = await createApp('fastify', {
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          load: [() => ({ SESSION_SECRET: SECRET, REDIS_URL: redis.url })],
        }),
        RedisSessionModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            secret: config.getOrThrow<string>('SESSION_SECRET'),
            prefix,
            redis: { url: config.getOrThrow<string>('REDIS_URL') },
          }),
        }),
      ],
      controllers: [SessionTestController],
    });
    await roundTrip(app, prefix);
  });

  it('forRootAsync with useClass and useExisting', async () => {
    const url = redis.url;
    @Injectable()
    class SessionConfig implements RedisSessionOptionsFactory {
      static prefix = '';
      createRedisSessionOptions(): RedisSessionModuleOptions {
        return { secret: SECRET, prefix: SessionConfig.prefix, redis: { url } };
      }
    }
    @Module({ providers: [SessionConfig], exports: [SessionConfig] })
    class SessionConfigModule {}

    SessionConfig.prefix = `${redis.prefix}class:`;
    const viaClass = await createApp('express', {
      imports: [RedisSessionModule.forRootAsync({ useClass: SessionConfig })],
      controllers: [SessionTestController],
    });
    await roundTrip(viaClass, SessionConfig.prefix);

    SessionConfig.prefix = `${redis.prefix}existing:`;
    const viaExisting = await createApp('express', {
      imports: [
        RedisSessionModule.forRootAsync({
          imports: [SessionConfigModule],
          useExisting: SessionConfig,
        }),
      ],
      controllers: [SessionTestController],
    });
    await roundTrip(viaExisting, SessionConfig.prefix);
  });

  it('is global: SessionService injects in a module that does not import it', async () => {
    @Module({})
    class FeatureModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [
        RedisSessionModule.forRoot({ secret: SECRET, redis: { url: redis.url } }),
        FeatureModule,
      ],
    }).compile();
    expect(moduleRef.select(FeatureModule).get(SessionService, { strict: false })).toBeInstanceOf(
      SessionService,
    );
    await moduleRef.close();
  });

  it('never closes a client the application passed in, and closes the one it made', async () => {
    const mine = new Redis(redis.url);
    const prefix = `${redis.prefix}client:`;
    const app = await createApp('express', {
      imports: [RedisSessionModule.forRoot({ secret: SECRET, prefix, client: mine })],
      controllers: [SessionTestController],
    });
    await roundTrip(app, prefix);
    await apps.pop()!.close();
    expect(await mine.ping()).toBe('PONG');
    mine.disconnect();

    const made = await createApp('express', {
      imports: [RedisSessionModule.forRoot({ secret: SECRET, redis: { url: redis.url } })],
      controllers: [SessionTestController],
    });
    const client = made.get<Redis>(REDIS_SESSION_CLIENT);
    expect(client.status).toBe('ready');
    await made.close();
    expect(['end', 'close']).toContain(client.status);
  });

  it('connects with host, port and db settings', async () => {
    const prefix = `${redis.prefix}hostport:`;
    const app = await createApp('express', {
      imports: [
        RedisSessionModule.forRoot({
          secret: SECRET,
          prefix,
          redis: { host: redis.host, port: redis.port, db: 3 },
        }),
      ],
      controllers: [SessionTestController],
    });
    apps.push(app);
    const cookie = cookieOf(await request(app.getHttpServer()).get('/write'));
    const db3 = new Redis({ host: redis.host, port: redis.port, db: 3 });
    try {
      expect(await db3.hget(prefix + idOf(cookie), 'counter')).toBe('1');
      expect(await redis.client.exists(prefix + idOf(cookie))).toBe(0);
    } finally {
      db3.disconnect();
    }
  });
});
