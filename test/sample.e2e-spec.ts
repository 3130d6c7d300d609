import type { INestApplication } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { InvalidSessionOptionsError, MemorySessionStore } from 'nestjs-redis-sessions';
import { createSampleApp } from '../sample/src/app.factory.js';
import type { SampleOptions } from '../sample/src/app.module.js';
import {
  ADAPTERS,
  SECRET,
  cookieOf,
  idOf,
  request,
  setCookies,
  type AdapterName,
} from './utils/app.js';
import { startRedis, type RedisHandle } from './utils/redis-server.js';

/** The sample as `npm start` builds it (same factory), initialised for supertest, silent. */
async function bootSample(adapter: AdapterName, sample: SampleOptions): Promise<INestApplication> {
  const app = await createSampleApp(adapter, sample, { logger: false });
  await app.init();
  if (adapter === 'fastify')
    await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

/** The hidden CSRF field of the (first) form on a page. */
function hiddenToken(page: string): string {
  const match = /name="csrf_token" value="([^"]+)"/.exec(page);
  if (!match) throw new Error(`no csrf_token field in:\n${page}`);
  return match[1];
}

/** The sample's pages and JSON API, on Redis and on the in-memory fallback. */
describe.each(ADAPTERS)('the sample app on %s', (adapter) => {
  describe.each([false, true])('memory store: %s', (useMemoryStore) => {
    let redis: RedisHandle | undefined;
    let app: INestApplication;
    const http = () => request(app.getHttpServer());

    beforeAll(async () => {
      redis = useMemoryStore ? undefined : await startRedis();
      app = await bootSample(adapter, {
        settings: {
          REDIS_SESSIONS_SECRET: SECRET,
          // Nothing listens on port 1: with the memory store the URL must not matter.
          REDIS_SESSIONS_URL: redis?.url ?? 'redis://127.0.0.1:1',
          REDIS_SESSIONS_PREFIX: redis?.prefix ?? 'sample-test:',
        },
        store: useMemoryStore ? new MemorySessionStore() : undefined,
      });
    });

    afterAll(async () => {
      await app?.close();
      await redis?.stop();
    });

    it('API: counts, needs the CSRF token, logs in with a new id, flashes once, logs out', async () => {
      const first = await http().get('/api/counter').expect(200, { visits: 1 });
      expect(first.headers['cache-control']).toBe('no-store');
      let cookie = cookieOf(first);
      await http().get('/api/counter').set('Cookie', cookie).expect(200, { visits: 2 });
      await http().post('/api/login').set('Cookie', cookie).send({ name: 'jane' }).expect(403);
      const { token: anonymousToken } = (
        await http().get('/api/csrf').set('Cookie', cookie).expect(200)
      ).body;
      const login = await http()
        .post('/api/login')
        .set('Cookie', cookie)
        .set('X-CSRF-Token', anonymousToken)
        .send({ name: 'jane' })
        .expect(200);
      const loggedIn = cookieOf(login);
      expect(loggedIn).not.toBe(cookie);
      const { csrfToken } = login.body;
      expect(login.body.user).toBe('jane');
      expect(csrfToken).not.toBe(anonymousToken);
      await http().get('/api/profile').set('Cookie', cookie).expect(401);
      cookie = loggedIn;
      await http()
        .get('/api/profile')
        .set('Cookie', cookie)
        .expect(200)
        .expect((res) => expect(res.body).toMatchObject({ name: 'jane', visits: 2 }));
      expect((await http().get('/api/csrf').set('Cookie', cookie).expect(200)).body.token).toBe(
        csrfToken,
      );
      await http().post('/api/profile').set('Cookie', cookie).send({ bio: 'x' }).expect(403);
      await http()
        .post('/api/profile')
        .set('Cookie', cookie)
        .set('X-CSRF-Token', anonymousToken)
        .send({ bio: 'x' })
        .expect(403);
      await http()
        .post('/api/profile')
        .set('Cookie', cookie)
        .set('X-CSRF-Token', csrfToken)
        .send({ bio: 'hi' })
        .expect(200)
        .expect((res) => expect(res.body.bio).toBe('hi'));
      // The flash set at login shows on the next page, once.
      expect((await http().get('/').set('Cookie', cookie).expect(200)).text).toContain(
        'Welcome, jane',
      );
      expect((await http().get('/').set('Cookie', cookie).expect(200)).text).not.toContain(
        'Welcome, jane',
      );
      await http().post('/api/logout').set('Cookie', cookie).expect(403);
      await http()
        .post('/api/logout')
        .set('Cookie', cookie)
        .set('X-CSRF-Token', csrfToken)
        .expect(200, { loggedOut: true });
      await http().get('/api/profile').set('Cookie', cookie).expect(401);
      await http().get('/api/nothing-here').expect(404);
    });

    it('pages: forms post with the hidden token, answer 303 (PRG), and errors are pages', async () => {
      const home = await http().get('/').expect(200);
      expect(home.headers['content-type']).toMatch(/^text\/html/);
      expect(home.headers['cache-control']).toBe('no-store');
      expect(home.text).toContain('You are not logged in');
      let cookie = cookieOf(home);

      const form = await http().get('/login').set('Cookie', cookie).expect(200);
      const token = hiddenToken(form.text);
      const forged = await http()
        .post('/login')
        .set('Cookie', cookie)
        .type('form')
        .send({ name: 'jane', csrf_token: 'forged' })
        .expect(403);
      expect(forged.headers['content-type']).toMatch(/^text\/html/);
      expect(forged.text).toContain('This form has expired');

      const blank = await http()
        .post('/login')
        .set('Cookie', cookie)
        .type('form')
        .send({ name: '  ', csrf_token: token })
        .expect(303);
      expect(blank.headers.location).toBe('/login');
      expect((await http().get('/login').set('Cookie', cookie).expect(200)).text).toContain(
        'Please enter a name',
      );

      const login = await http()
        .post('/login')
        .set('Cookie', cookie)
        .type('form')
        .send({ name: 'Jane <b>', csrf_token: token })
        .expect(303);
      expect(login.headers.location).toBe('/');
      const loggedIn = cookieOf(login);
      expect(loggedIn).not.toBe(cookie);
      cookie = loggedIn;
      const welcome = (await http().get('/').set('Cookie', cookie).expect(200)).text;
      expect(welcome).toContain('Welcome, Jane &lt;b&gt;');
      expect(welcome).not.toContain('<b>');
      expect((await http().get('/').set('Cookie', cookie).expect(200)).text).not.toContain(
        'Welcome,',
      );

      const profile = await http().get('/profile').set('Cookie', cookie).expect(200);
      expect(profile.headers['cache-control']).toBe('no-store');
      const profileToken = hiddenToken(profile.text);
      const saved = await http()
        .post('/profile')
        .set('Cookie', cookie)
        .type('form')
        .send({ bio: 'Hello & goodbye', csrf_token: profileToken })
        .expect(303);
      expect(saved.headers.location).toBe('/profile');
      const after = (await http().get('/profile').set('Cookie', cookie).expect(200)).text;
      expect(after).toContain('Profile saved.');
      expect(after).toContain('Hello &amp; goodbye');
      await http()
        .post('/profile')
        .set('Cookie', cookie)
        .type('form')
        // Its first character changed, whatever it was ('x' + the rest would sometimes be the token).
        .send({
          bio: 'evil',
          csrf_token: (profileToken[0] === 'x' ? 'y' : 'x') + profileToken.slice(1),
        })
        .expect(403);
      expect((await http().get('/profile').set('Cookie', cookie).expect(200)).text).not.toContain(
        'evil',
      );

      const devices = await http().get('/devices').set('Cookie', cookie).expect(200);
      expect(devices.headers['cache-control']).toBe('no-store');
      expect(devices.text).toContain('This browser');
      expect(devices.text).toContain('This is the only browser signed in as you');

      const logout = await http()
        .post('/logout')
        .set('Cookie', cookie)
        .type('form')
        .send({ csrf_token: profileToken })
        .expect(303);
      expect(logout.headers.location).toBe('/');
      const unauthorized = await http().get('/profile').set('Cookie', cookie).expect(401);
      expect(unauthorized.headers['cache-control']).toBe('no-store');
      expect(unauthorized.text).toContain('Please log in');
      expect(unauthorized.text).toContain('href="/login"');
      expect(unauthorized.text).not.toContain('Jane');
      await http().get('/devices').set('Cookie', cookie).expect(401);
      expect((await http().get('/nothing-here').expect(404)).text).toContain('Page not found');
    });

    /** Logs in with the form from a browser with this User-Agent; the session's cookie. */
    const logIn = async (name: string, userAgent: string): Promise<string> => {
      const form = await http().get('/login').set('User-Agent', userAgent).expect(200);
      const login = await http()
        .post('/login')
        .set('Cookie', cookieOf(form))
        .set('User-Agent', userAgent)
        .type('form')
        .send({ name, csrf_token: hiddenToken(form.text) })
        .expect(303);
      return cookieOf(login);
    };
    const CHROME =
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36';
    const SAFARI =
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1';
    const FIREFOX =
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0';
    /** The handles in a devices page's Sign out forms (one per other device). */
    const handles = (page: string) =>
      [...page.matchAll(/name="handle" value="([^"]+)"/g)].map((match) => match[1]);

    it("devices: lists the same user's browsers, signs one out, then every other, never another user's", async () => {
      const laptop = await logIn('Jane', CHROME);
      const phone = await logIn('jane', SAFARI); // one user: the name, ignoring case
      const bob = await logIn('Bob', FIREFOX);

      const list = await http().get('/devices').set('Cookie', laptop).set('User-Agent', CHROME);
      expect(list.status).toBe(200);
      expect(list.headers['cache-control']).toBe('no-store');
      expect(list.text).toContain('Chrome on Linux');
      expect(list.text).toContain('Safari on iPhone');
      expect(list.text).not.toContain('Firefox'); // Bob's
      expect(list.text).toContain('127.0.0.1');
      expect(list.text).not.toContain('::ffff:');
      expect(list.text).not.toContain(idOf(laptop)); // only handles, never ids
      expect(list.text).not.toContain(idOf(phone));
      const [phoneHandle, ...more] = handles(list.text);
      expect(more).toEqual([]); // no Sign out button for this browser itself
      const token = hiddenToken(list.text);

      // CSRF first; then a handle of another user (Bob's) or of nothing ends nothing.
      await http()
        .post('/devices/revoke')
        .set('Cookie', laptop)
        .type('form')
        .send({ handle: phoneHandle })
        .expect(403);
      const bobsOwn = await logIn('bob', SAFARI);
      const [bobHandle] = handles((await http().get('/devices').set('Cookie', bobsOwn)).text);
      expect(bobHandle).toMatch(/^[A-Za-z0-9_-]+$/); // Bob's first session, as his second sees it
      for (const handle of [bobHandle, 'no-such-handle', '<b>']) {
        await http()
          .post('/devices/revoke')
          .set('Cookie', laptop)
          .type('form')
          .send({ handle, csrf_token: token })
          .expect(303)
          .expect('Location', '/devices');
      }
      const refused = (await http().get('/devices').set('Cookie', laptop).expect(200)).text;
      expect(refused).toContain('That device was already signed out.');
      expect(refused).toContain('Choose a device to sign out.');
      await http().get('/profile').set('Cookie', bob).expect(200);
      await http().get('/profile').set('Cookie', bobsOwn).expect(200);

      // This browser's own handle (as the phone's page shows it) is not signed out here.
      const [laptopHandle] = handles(
        (await http().get('/devices').set('Cookie', phone).expect(200)).text,
      );
      await http()
        .post('/devices/revoke')
        .set('Cookie', laptop)
        .type('form')
        .send({ handle: laptopHandle, csrf_token: token })
        .expect(303);
      expect((await http().get('/devices').set('Cookie', laptop).expect(200)).text).toContain(
        'That is this browser: use Log out',
      );

      // The phone, signed out from the laptop: its next request is a visitor's.
      await http()
        .post('/devices/revoke')
        .set('Cookie', laptop)
        .type('form')
        .send({ handle: phoneHandle, csrf_token: token })
        .expect(303)
        .expect('Location', '/devices');
      const after = (await http().get('/devices').set('Cookie', laptop).expect(200)).text;
      expect(after).toContain('Signed out one device');
      expect(after).not.toContain('Safari on iPhone');
      await http().get('/profile').set('Cookie', phone).expect(401);
      await http().get('/devices').set('Cookie', phone).expect(401);

      // Everywhere else: two more of Jane's, ended; Bob's sessions are not Jane's.
      const tablet = await logIn('JANE', SAFARI);
      const desktop = await logIn('Jane', FIREFOX);
      await http()
        .post('/devices/revoke-others')
        .set('Cookie', laptop)
        .type('form')
        .send({ csrf_token: 'forged' })
        .expect(403);
      await http()
        .post('/devices/revoke-others')
        .set('Cookie', laptop)
        .type('form')
        .send({ csrf_token: token })
        .expect(303)
        .expect('Location', '/devices');
      const alone = (await http().get('/devices').set('Cookie', laptop).expect(200)).text;
      expect(alone).toContain('Signed out 2 other devices');
      expect(alone).toContain('This is the only browser signed in as you');
      for (const gone of [tablet, desktop])
        await http().get('/profile').set('Cookie', gone).expect(401);
      await http().get('/profile').set('Cookie', laptop).expect(200);
      await http().get('/profile').set('Cookie', bob).expect(200);
      await http()
        .post('/devices/revoke-others')
        .set('Cookie', laptop)
        .type('form')
        .send({ csrf_token: token })
        .expect(303);
      expect((await http().get('/devices').set('Cookie', laptop).expect(200)).text).toContain(
        'No other device was signed in.',
      );

      // A visitor (with a valid token of its own session) is asked to log in.
      const visitor = await http().get('/login').expect(200);
      await http()
        .post('/devices/revoke-others')
        .set('Cookie', cookieOf(visitor))
        .type('form')
        .send({ csrf_token: hiddenToken(visitor.text) })
        .expect(401);
    });
  });
});

describe('the sample configured from settings', () => {
  const store = () => new MemorySessionStore();

  it.each(ADAPTERS)(
    'applies the documented settings on %s (cookie name, SameSite)',
    async (adapter) => {
      const app = await bootSample(adapter, {
        settings: {
          REDIS_SESSIONS_SECRET: SECRET,
          REDIS_SESSIONS_COOKIE_NAME: 'sid',
          REDIS_SESSIONS_COOKIE_SAMESITE: 'strict',
          REDIS_SESSIONS_COOKIE_MAX_AGE: '600',
        },
        store: store(),
      });
      try {
        const response = await request(app.getHttpServer()).get('/').expect(200);
        const [cookie] = setCookies(response, 'sid');
        expect(cookie).toMatch(/; SameSite=Strict/i);
        expect(cookie).toMatch(/Max-Age=600/i);
      } finally {
        await app.close();
      }
    },
  );

  it('refuses to boot on bad settings with one InvalidSessionOptionsError naming each', async () => {
    const boot = bootSample('express', {
      settings: {
        REDIS_SESSIONS_SECRET: SECRET,
        REDIS_SESSIONS_COOKIE_SAMESITE: 'sideways',
        REDIS_SESSIONS_TIMEOUT: 'later',
        REDIS_SESSIONS_COOKIE_SAMSITE: 'lax',
      },
      store: store(),
    });
    await expect(boot).rejects.toBeInstanceOf(InvalidSessionOptionsError);
    const error = (await boot.catch((e: unknown) => e)) as InvalidSessionOptionsError;
    expect(error.problems).toHaveLength(3);
    expect(error.message).toContain('REDIS_SESSIONS_COOKIE_SAMESITE');
    expect(error.message).toContain('REDIS_SESSIONS_TIMEOUT');
    expect(error.message).toContain('REDIS_SESSIONS_COOKIE_SAMSITE');
  });
});
