import {
  Controller,
  Get,
  Module,
  Req,
  Session as NestSession,
  type MiddlewareConsumer,
  type NestModule,
} from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import {
  RedisSession,
  RedisSessionModule,
  Session,
  SessionService,
  type SessionData,
} from '../src/index.js';
import { SessionTestController } from './app/session-test.controller.js';
import { ADAPTERS, SECRET, cookieOf, createApp, idOf, request } from './utils/app.js';
import { startRedis, type RedisHandle } from './utils/redis-server.js';

const seenInMiddleware = new WeakMap<IncomingMessage, SessionData>();

@Controller('mw')
class MiddlewareController {
  @Get()
  handler(
    @Session() session: SessionData,
    @Req() req: { raw?: IncomingMessage } & IncomingMessage,
  ) {
    session.touched = true;
    return { same: seenInMiddleware.get(req.raw ?? req) === session };
  }
}

describe.each(ADAPTERS)('SessionService on %s', (adapter) => {
  let redis: RedisHandle;
  let app: INestApplication;
  let sessions: SessionService;

  beforeAll(async () => {
    redis = await startRedis();
    @Module({
      imports: [
        RedisSessionModule.forRoot({
          secret: SECRET,
          prefix: redis.prefix,
          redis: { url: redis.url },
        }),
      ],
      controllers: [SessionTestController, MiddlewareController],
    })
    class AppModule implements NestModule {
      constructor(private readonly service: SessionService) {}
      configure(consumer: MiddlewareConsumer) {
        // Middleware gets the raw Node request on Fastify and Express's on Express: load() takes both.
        consumer
          .apply(async (req: IncomingMessage, _res: unknown, next: () => void) => {
            seenInMiddleware.set(req, await this.service.load(req));
            next();
          })
          .forRoutes('mw');
      }
    }
    app = await createApp(adapter, { imports: [AppModule] });
    sessions = app.get(SessionService);
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('load() in middleware gives the same object the handler gets', async () => {
    const res = await request(app.getHttpServer()).get('/mw').expect(200, { same: true });
    expect(await redis.client.hget(redis.prefix + idOf(cookieOf(res)), 'touched')).toBe('true');
  });

  it('ids() lists live sessions of this namespace only; exists() and destroy() act by id', async () => {
    const made = new Set<string>();
    for (let i = 0; i < 3; i++)
      made.add(idOf(cookieOf(await request(app.getHttpServer()).get('/write'))));
    await redis.client.set(`${redis.prefix}not-a-session`, 'x');
    await redis.client.hset(`other:${[...made][0]}`, '$c', '1');
    try {
      const listed: string[] = [];
      for await (const id of sessions.ids()) listed.push(id);
      for (const id of made) expect(listed).toContain(id);
      expect(listed).not.toContain('not-a-session');
      const [victim] = made;
      expect(await sessions.exists(victim)).toBe(true);
      expect(await sessions.destroy(victim)).toBe(true);
      expect(await sessions.exists(victim)).toBe(false);
      expect(await sessions.destroy(victim)).toBe(false);
      const cookie = cookieOf(await request(app.getHttpServer()).get('/write'));
      await sessions.destroy(idOf(cookie));
      await request(app.getHttpServer())
        .get('/read')
        .set('Cookie', cookie)
        .expect(200, { counter: null });
    } finally {
      await redis.client.del(`${redis.prefix}not-a-session`, `other:${[...made][0]}`);
    }
  });

  it('methods reject what is not a session object with a clear TypeError', () => {
    expect(() => sessions.getId({} as SessionData)).toThrow(/Expected the session object/);
    expect(() => sessions.adjustTimeout({} as SessionData, 10)).toThrow(TypeError);
  });
});

describe('the @Session() decorator', () => {
  it("is ours, not @nestjs/common's (which reads req.session), and RedisSession is the same one", () => {
    expect(Session).not.toBe(NestSession);
    expect(RedisSession).toBe(Session);
  });
});
