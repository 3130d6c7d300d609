import { Controller, Get, UseGuards, type INestApplication } from '@nestjs/common';
import { RedisSessionModule, Session, UseSession, type SessionData } from '../src/index.js';
import { SessionReadingGuard } from './app/session-test.controller.js';
import { ADAPTERS, SECRET, cookieOf, createApp, request, setCookies } from './utils/app.js';
import { startRedis, type RedisHandle } from './utils/redis-server.js';

@UseSession()
@Controller('with')
class WithSessionController {
  @Get('write')
  write(@Session() session: SessionData) {
    session.n = ((session.n as number | undefined) ?? 0) + 1;
    return { n: session.n };
  }

  @Get('guarded')
  @UseGuards(SessionReadingGuard)
  guarded() {
    return { ok: true };
  }
}

@Controller('without')
class WithoutSessionController {
  @Get('none')
  none() {
    return { ok: true };
  }

  @Get('forgot')
  forgot(@Session() session: SessionData) {
    return { session };
  }
}

/** `globalInterceptor: false`: only routes that carry @UseSession() run the session interceptor. */
describe.each(ADAPTERS)('globalInterceptor: false on %s', (adapter) => {
  let redis: RedisHandle;
  let app: INestApplication;

  beforeAll(async () => {
    redis = await startRedis();
    app = await createApp(adapter, {
      imports: [
        RedisSessionModule.forRoot({
          secret: SECRET,
          prefix: redis.prefix,
          redis: { url: redis.url },
          globalInterceptor: false,
        }),
      ],
      controllers: [WithSessionController, WithoutSessionController],
      providers: [SessionReadingGuard],
    });
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('loads and commits on routes with @UseSession()', async () => {
    const cookie = cookieOf(
      await request(app.getHttpServer()).get('/with/write').expect(200, { n: 1 }),
    );
    await request(app.getHttpServer())
      .get('/with/write')
      .set('Cookie', cookie)
      .expect(200, { n: 2 });
    await request(app.getHttpServer()).get('/with/guarded').set('Cookie', cookie).expect(200);
  });

  it('leaves other routes alone', async () => {
    const res = await request(app.getHttpServer()).get('/without/none').expect(200, { ok: true });
    expect(setCookies(res)).toEqual([]);
  });

  it('says what is missing when @Session() is used without @UseSession()', async () => {
    // The message (logged by Nest) names @UseSession(); the client gets a plain 500.
    await request(app.getHttpServer()).get('/without/forgot').expect(500);
  });
});
