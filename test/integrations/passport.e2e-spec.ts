import type { INestApplication } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import passport from 'passport';
import {
  ExpressSessionMiddleware,
  RedisSessionModule,
  SessionService,
  type RedisSessionModuleForRootOptions,
} from '../../src/index.js';
import { AuthModule } from '../app/passport/auth.js';
import {
  ADAPTERS,
  SECRET,
  cookieOf,
  idOf,
  request,
  setCookies,
  type AdapterName,
} from '../utils/app.js';
import { capturedLogs } from '../utils/quiet-logs.js';
import { startRedis, type RedisHandle } from '../utils/redis-server.js';

/** The README's main.ts: our middleware where express-session's was, then passport's. */
async function boot(
  adapter: AdapterName,
  redis: RedisHandle,
  options: Partial<RedisSessionModuleForRootOptions> = {},
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      RedisSessionModule.forRoot({
        secret: SECRET,
        prefix: redis.prefix,
        redis: { url: redis.url },
        ...options,
      }),
      AuthModule,
    ],
  }).compile();
  const app =
    adapter === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
          logger: false,
        })
      : moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
  app.use(app.get(ExpressSessionMiddleware).middleware);
  app.use(passport.session());
  await app.init();
  if (adapter === 'fastify')
    await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

describe.each(ADAPTERS)('passport session login on %s', (adapter) => {
  let redis: RedisHandle;
  let app: INestApplication;

  beforeAll(async () => {
    redis = await startRedis();
    app = await boot(adapter, redis);
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  const http = () => request(app.getHttpServer());

  it('logs in with a new id, knows the user on the next request, and logs out with CSRF', async () => {
    // A visitor with an anonymous session (a CSRF token for the login form, say).
    const before = cookieOf(await http().get('/csrf').expect(200));
    await http()
      .post('/login')
      .set('Cookie', before)
      .send({ username: 'jane', password: 'nope' })
      .expect(401);
    const login = await http()
      .post('/login')
      .set('Cookie', before)
      .send({ username: 'jane', password: 'correct horse' })
      .expect(201, { id: 1, username: 'jane' });
    const cookie = cookieOf(login);
    expect(idOf(cookie)).not.toBe(idOf(before));
    // Fixation: the old id is dead, and it is not logged in.
    expect(await redis.client.exists(redis.prefix + idOf(before))).toBe(0);
    await http().get('/me').set('Cookie', before).expect(403);
    await http().get('/me').set('Cookie', cookie).expect(200, { id: 1, username: 'jane' });
    const stored = await redis.client.hgetall(redis.prefix + idOf(cookie));
    expect(JSON.parse(stored.passport)).toEqual({ user: 1 });

    await http().post('/logout').set('Cookie', cookie).expect(403);
    const { token } = (await http().get('/csrf').set('Cookie', cookie).expect(200)).body;
    const logout = await http()
      .post('/logout')
      .set('Cookie', cookie)
      .set('X-CSRF-Token', token)
      .expect(201);
    await http().get('/me').set('Cookie', cookie).expect(403);
    // passport's logout regenerates into an empty session: like express-session with
    // saveUninitialized false, nothing is stored, and the old cookie is cleared.
    expect(setCookies(logout)).toEqual([expect.stringMatching(/^session=; .*Max-Age=0/)]);
    expect(await redis.client.keys(`${redis.prefix}*`)).toEqual([]);
  });

  it('remembers a login for 30 days through req.session.cookie.maxAge, and forgets it again', async () => {
    const thirtyDays = 30 * 24 * 3600;
    const login = await http()
      .post('/login')
      .send({ username: 'jane', password: 'correct horse', remember: true })
      .expect(201);
    const [setCookie] = setCookies(login);
    expect(setCookie).toContain(`Max-Age=${thirtyDays}`);
    const cookie = cookieOf(login);
    const key = redis.prefix + idOf(cookie);
    expect(await redis.client.ttl(key)).toBeGreaterThan(thirtyDays - 60);

    // The cookie is sent again as the session slides, and reads as express-session's would.
    const later = await http().get('/cookie').set('Cookie', cookie).expect(200);
    expect(setCookies(later)).toEqual([expect.stringContaining(`Max-Age=${thirtyDays}`)]);
    const { maxAge, expires, secure } = later.body;
    expect(maxAge).toBeGreaterThan((thirtyDays - 60) * 1000);
    expect(maxAge).toBeLessThanOrEqual(thirtyDays * 1000);
    expect(Date.parse(expires)).toBeGreaterThan(Date.now() + (thirtyDays - 60) * 1000);
    expect(secure).toBe(false);
    await http().get('/me').set('Cookie', cookie).expect(200, { id: 1, username: 'jane' });

    // A browser-session cookie again: sent once more without Max-Age, then not at all.
    const forget = await http().post('/forget-me').set('Cookie', cookie).expect(201);
    expect(setCookies(forget)).toEqual([expect.not.stringContaining('Max-Age')]);
    // The session lives the configured timeout again (1200 s, plus the touch slack), and follows
    // that setting from now on: it keeps no timeout of its own.
    expect(await redis.client.ttl(key)).toBeLessThanOrEqual(1320);
    expect(await redis.client.hexists(key, '$t')).toBe(0);
    const after = await http().get('/cookie').set('Cookie', cookie).expect(200);
    expect(setCookies(after)).toEqual([]);
    expect(after.body).toEqual({ maxAge: null, expires: null, secure: false });
    await http().get('/me').set('Cookie', cookie).expect(200);
  });

  it('keeps a login without "remember me" to a browser-session cookie', async () => {
    const login = await http()
      .post('/login')
      .send({ username: 'jane', password: 'correct horse' })
      .expect(201);
    expect(setCookies(login)).toEqual([expect.not.stringContaining('Max-Age')]);
    const cookie = cookieOf(login);
    const read = await http().get('/cookie').set('Cookie', cookie).expect(200);
    expect(read.body).toEqual({ maxAge: null, expires: null, secure: false });
  });

  it('ignores per-request cookie attributes with one warning each, never a 500', async () => {
    const response = await http().post('/cookie-attributes').expect(201);
    expect(response.body).toEqual({ path: '/', secure: false });
    const warnings = capturedLogs().filter((l) => l.level === 'warn');
    expect(warnings.map((l) => l.message)).toEqual([
      expect.stringContaining('req.session.cookie.path was assigned and is ignored'),
      expect.stringContaining('req.session.cookie.secure was assigned and is ignored'),
    ]);
  });

  it('costs no Redis command for a visitor without a cookie', async () => {
    const before = await commands(redis);
    await http().get('/me').expect(403);
    // The second INFO counts itself: nothing else ran.
    expect(await commands(redis)).toBe(before + 1);
  });
});

describe.each(ADAPTERS)("passport with user_key: 'passport.user' on %s", (adapter) => {
  let redis: RedisHandle;
  let app: INestApplication;

  beforeAll(async () => {
    redis = await startRedis();
    app = await boot(adapter, redis, { userKey: 'passport.user' });
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  const http = () => request(app.getHttpServer());

  it("binds every passport login to its user, so the user's devices can be listed and ended", async () => {
    const sessions = app.get(SessionService);
    const phone = cookieOf(
      await http().post('/login').send({ username: 'jane', password: 'correct horse' }).expect(201),
    );
    const laptop = cookieOf(
      await http().post('/login').send({ username: 'jane', password: 'correct horse' }).expect(201),
    );
    expect(await sessions.userSessions(1)).toHaveLength(2);
    expect(await sessions.revokeUserSessions(1)).toBe(2);
    await http().get('/me').set('Cookie', phone).expect(403);
    await http().get('/me').set('Cookie', laptop).expect(403);
  });
});

/** Commands Redis has processed so far, minus the INFO calls that read it. */
async function commands(redis: RedisHandle): Promise<number> {
  const info = await redis.client.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}
