import { Controller, Get, type INestApplication } from '@nestjs/common';
import { RedisSessionModule, Session, SessionService, type SessionData } from '../../src/index.js';
import { capturedLogs } from '../utils/quiet-logs.js';
import {
  SECRET,
  cookieOf,
  createApp,
  request,
  setCookies,
  type AdapterName,
} from '../utils/app.js';
import { scanAll, startRedis, type RedisHandle } from '../utils/redis-server.js';
import { expressSessionApp, fastifySessionApp } from './legacy-apps.js';

const LEGACY_SECRET = 'legacy-secret-legacy-secret-legacy-0123';
const FASTIFY_SECRET = 'fastify-secret-with-at-least-32-characters';

@Controller()
class WhoAmIController {
  constructor(private readonly sessions: SessionService) {}

  @Get('whoami')
  whoami(@Session() session: SessionData) {
    return { data: { ...session }, user: this.sessions.getUser(session) ?? null };
  }

  @Get('visit')
  visit(@Session() session: SessionData) {
    session.visits = ((session.visits as number | undefined) ?? 0) + 1;
    return { data: { ...session } };
  }
}

/**
 * The switch, end to end: a user logged in on a real express-session (passport) or
 * @fastify/session app is still logged in, with the same browser cookie jar, on the first
 * request to the app that replaced it, on the same Redis.
 */
describe.each([
  ['express-session + passport', 'express', 'connect.sid', [LEGACY_SECRET]],
  ['@fastify/session', 'fastify', 'sessionId', [FASTIFY_SECRET]],
] as const)('switching from %s', (_name, adapter: AdapterName, cookieName, secrets) => {
  let redis: RedisHandle;
  let app: INestApplication;
  let legacyPrefix: string;
  let login: (user?: string) => Promise<string>;
  let closeLegacy: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    redis = await startRedis();
    legacyPrefix = `${redis.prefix}sess:`;
    if (adapter === 'express') {
      login = expressSessionApp(redis.client, {
        prefix: legacyPrefix,
        secrets: [...secrets],
      }).login;
    } else {
      const legacy = await fastifySessionApp(redis.client, {
        prefix: legacyPrefix,
        secret: secrets[0],
      });
      login = legacy.login;
      closeLegacy = () => legacy.app.close();
    }
    app = await createApp(adapter, {
      imports: [
        RedisSessionModule.forRoot({
          secret: SECRET,
          prefix: `${redis.prefix}ours:`,
          redis: { url: redis.url },
          legacy: { cookieName, secrets: [...secrets], prefix: legacyPrefix },
          // Where each old app kept its user: moved sessions are bound on their first request.
          userKey: adapter === 'express' ? 'passport.user' : 'user.name',
        }),
      ],
      controllers: [WhoAmIController],
    });
  });

  afterAll(async () => {
    await app?.close();
    await closeLegacy();
    await redis?.stop();
  });

  // Sessions only: the per-user index keys of user_key's bindings live beside them.
  const ours = async () =>
    (await scanAll(redis.client, `${redis.prefix}ours:*`)).filter((k) => !k.includes(':user:'));

  it('keeps the user logged in, moves the session once, and clears the old cookie', async () => {
    const legacyCookie = await login(adapter === 'express' ? 'alice' : 'bob');
    expect(await scanAll(redis.client, `${legacyPrefix}*`)).toHaveLength(1);
    const first = await request(app.getHttpServer())
      .get('/whoami')
      .set('Cookie', legacyCookie)
      .expect(200);
    const data = first.body.data;
    if (adapter === 'express') {
      expect(data.passport).toEqual({ user: 'alice' });
      expect(data.cart).toEqual({ items: ['apple'] });
    } else {
      expect(data.user).toEqual({ name: 'bob', roles: ['admin'] });
    }
    expect(data.cookie).toBeUndefined();
    const cleared = (first.headers['set-cookie'] as unknown as string[]).find((c) =>
      c.startsWith(`${cookieName}=`),
    );
    expect(cleared).toMatch(/Max-Age=0/);
    const cookie = cookieOf(first);
    // The old key is gone; ours holds the session.
    expect(await scanAll(redis.client, `${legacyPrefix}*`)).toEqual([]);
    expect(await ours()).toHaveLength(1);
    // The jar now sends both until the browser applies the clearing: ours wins, same session.
    const next = await request(app.getHttpServer())
      .get('/whoami')
      .set('Cookie', `${cookie}; ${legacyCookie}`)
      .expect(200);
    expect(next.body.data).toEqual(data);
    expect(setCookies(next)).toEqual([]);
    // A replayed legacy cookie cannot mint a second session.
    await request(app.getHttpServer()).get('/whoami').set('Cookie', legacyCookie).expect(200);
    expect(await ours()).toHaveLength(1);
  });

  it("binds a moved session to the user its user_key names, so the user's sessions can be listed and ended", async () => {
    const user = adapter === 'express' ? 'frank' : 'bob';
    const legacyCookie = await login(user);
    const sessions = app.get(SessionService);
    // The @fastify/session app logs everyone in as bob, whom earlier cases moved already.
    const before = (await sessions.userSessions(user)).length;
    const first = await request(app.getHttpServer())
      .get('/whoami')
      .set('Cookie', legacyCookie)
      .expect(200);
    expect(first.body.user).toBe(user);
    expect(await sessions.userSessions(user)).toHaveLength(before + 1);
    expect(await sessions.revokeUserSessions(user)).toBe(before + 1);
    const after = await request(app.getHttpServer())
      .get('/whoami')
      .set('Cookie', cookieOf(first))
      .expect(200);
    expect(after.body).toEqual({ data: {}, user: null });
  });

  it('two racing first requests of one browser make one session', async () => {
    const legacyCookie = await login('carol');
    const before = (await ours()).length;
    const [a, b] = await Promise.all([
      request(app.getHttpServer()).get('/whoami').set('Cookie', legacyCookie),
      request(app.getHttpServer()).get('/whoami').set('Cookie', legacyCookie),
    ]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(cookieOf(a)).toBe(cookieOf(b));
    expect((await ours()).length).toBe(before + 1);
  });

  it('a validly signed legacy cookie whose session is gone is cleared, at every request', async () => {
    const legacyCookie = await login('erin');
    const [key] = await scanAll(redis.client, `${legacyPrefix}*`);
    await redis.client.del(key);
    for (let i = 0; i < 2; i++) {
      // The second request is answered from the importer's memory of dead ids: cleared too.
      const res = await request(app.getHttpServer())
        .get('/whoami')
        .set('Cookie', legacyCookie)
        .expect(200);
      expect(res.body.data).toEqual({});
      expect(setCookies(res, cookieName)).toEqual([
        expect.stringMatching(new RegExp(`^${cookieName}=;.*Max-Age=0`)),
      ]);
      // Nothing of ours: an empty session is never stored.
      expect(setCookies(res)).toEqual([]);
    }
  });

  it('a legacy cookie signed with an unknown secret gives a fresh anonymous session', async () => {
    const legacyCookie = await login('dave');
    const forged = legacyCookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    const res = await request(app.getHttpServer()).get('/whoami').set('Cookie', forged).expect(200);
    expect(res.body.data).toEqual({});
    expect(setCookies(res)).toEqual([]);
    // Old cookies have verified in this process: the secrets are right, this one is a forgery.
    expect(capturedLogs().filter((l) => l.level === 'warn')).toEqual([]);
  });
});

/** An express-session + passport app and ours, on one Redis, with our legacy settings. */
async function expressSwitch(ours: { encryptionKey?: string; legacySecrets?: string[] }) {
  const redis = await startRedis();
  const legacyPrefix = `${redis.prefix}sess:`;
  const { login } = expressSessionApp(redis.client, {
    prefix: legacyPrefix,
    secrets: [LEGACY_SECRET],
  });
  const app = await createApp('express', {
    imports: [
      RedisSessionModule.forRoot({
        secret: SECRET,
        prefix: `${redis.prefix}ours:`,
        redis: { url: redis.url },
        encryptionKey: ours.encryptionKey,
        legacy: {
          cookieName: 'connect.sid',
          secrets: ours.legacySecrets ?? [LEGACY_SECRET],
          prefix: legacyPrefix,
        },
      }),
    ],
    controllers: [WhoAmIController],
  });
  return { redis, app, login };
}

describe('switching with encryption at rest on', () => {
  let redis: RedisHandle;
  let app: INestApplication;
  let login: (user?: string) => Promise<string>;

  beforeAll(async () => {
    ({ redis, app, login } = await expressSwitch({ encryptionKey: 'c'.repeat(64) }));
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('stores the moved session encrypted, and the old cookie still reads it after a write', async () => {
    const legacyCookie = await login('alice');
    const first = await request(app.getHttpServer())
      .get('/visit')
      .set('Cookie', legacyCookie)
      .expect(200);
    expect(first.body.data.passport).toEqual({ user: 'alice' });
    const [key] = await scanAll(redis.client, `${redis.prefix}ours:*`);
    const stored = await redis.client.hgetall(key);
    expect(JSON.stringify(stored)).not.toContain('alice');
    expect(stored.passport).toMatch(/^e1\./);
    // A browser that never got the new cookie comes back with the old one alone.
    const again = await request(app.getHttpServer())
      .get('/visit')
      .set('Cookie', legacyCookie)
      .expect(200);
    expect(again.body.data).toMatchObject({ passport: { user: 'alice' }, visits: 2 });
  });
});

describe('switching with a wrong legacy secret', () => {
  let redis: RedisHandle;
  let app: INestApplication;
  let login: (user?: string) => Promise<string>;

  beforeAll(async () => {
    ({ redis, app, login } = await expressSwitch({ legacySecrets: ['a-typo-in-the-secret'] }));
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('says so in a warning (once a minute), since every old user would start logged out', async () => {
    const legacyCookie = await login('alice');
    for (let i = 0; i < 2; i++) {
      const res = await request(app.getHttpServer())
        .get('/whoami')
        .set('Cookie', legacyCookie)
        .expect(200);
      expect(res.body.data).toEqual({});
    }
    const warnings = capturedLogs().filter((l) => l.level === 'warn');
    expect(warnings).toEqual([
      expect.objectContaining({
        message: expect.stringContaining(
          'Legacy cookie "connect.sid" is not signed by any legacy secret (1 so far, none verified yet)',
        ),
      }),
    ]);
    expect(warnings[0].message).toContain('legacy.secrets');
  });
});
