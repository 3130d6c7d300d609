import { ADAPTERS, cookieOf, setCookies } from '../utils/app.js';
import { sessionBed, type SessionBed } from '../utils/sessions.js';

/** Cases E (CSRF and flash) of SECURITY-CASES.md. */
describe.each(ADAPTERS)('CSRF and flash on %s', (adapter) => {
  let bed: SessionBed;

  beforeAll(async () => {
    bed = await sessionBed(adapter);
  });

  afterAll(async () => {
    await bed?.close();
  });

  async function tokenAndCookie() {
    const res = await bed.http().get('/sec/csrf').expect(200);
    return { token: res.body.token as string, cookie: cookieOf(res) };
  }

  it('case 31: unsafe methods need the token in the header or the body; the query string does not count', async () => {
    const { token, cookie } = await tokenAndCookie();
    expect(Buffer.from(token, 'base64url').length).toBeGreaterThanOrEqual(16);
    await bed.http().post('/sec/protected').set('Cookie', cookie).expect(403);
    await bed
      .http()
      .post('/sec/protected')
      .set('Cookie', cookie)
      .set('X-CSRF-Token', `${token}x`)
      .expect(403);
    await bed
      .http()
      .post('/sec/protected')
      .set('Cookie', cookie)
      .set('X-CSRF-Token', 'short')
      .expect(403);
    await bed
      .http()
      .post(`/sec/protected?csrf_token=${token}&_csrf=${token}`)
      .set('Cookie', cookie)
      .expect(403);
    await bed
      .http()
      .post('/sec/protected')
      .set('Cookie', cookie)
      .set('X-CSRF-Token', token)
      .expect(200, { ok: true });
    await bed
      .http()
      .post('/sec/body-token')
      .set('Cookie', cookie)
      .send({ csrf_token: token })
      .expect(200);
    await bed
      .http()
      .post('/sec/body-token')
      .set('Cookie', cookie)
      .type('form')
      .send({ csrf_token: token })
      .expect(200);
    await bed
      .http()
      .post('/sec/body-token')
      .set('Cookie', cookie)
      .type('form')
      .send({ csrf_token: 'forged' })
      .expect(403);
    await bed.http().get('/sec/protected').expect(200);
  });

  it('case 31: a request without any session is rejected, and the rejection stores nothing', async () => {
    const before = (await bed.keys()).length;
    const res = await bed.http().post('/sec/protected').set('X-CSRF-Token', 'anything').expect(403);
    expect(setCookies(res)).toEqual([]);
    expect((await bed.keys()).length).toBe(before);
  });

  it('case 32: a token is bound to its session', async () => {
    const a = await tokenAndCookie();
    const b = await tokenAndCookie();
    await bed
      .http()
      .post('/sec/protected')
      .set('Cookie', b.cookie)
      .set('X-CSRF-Token', a.token)
      .expect(403);
    await bed
      .http()
      .post('/sec/protected')
      .set('Cookie', b.cookie)
      .set('X-CSRF-Token', b.token)
      .expect(200);
  });

  it('case 34: a flash message is read exactly once, and its removal is persisted', async () => {
    const cookie = cookieOf(
      await bed
        .http()
        .get('/sec/flash/saved')
        .expect(200, { queued: ['saved'] }),
    );
    await bed
      .http()
      .get('/sec/flash/saved')
      .set('Cookie', cookie)
      .expect(200, { queued: ['saved'] });
    await bed
      .http()
      .get('/sec/pop-flash')
      .set('Cookie', cookie)
      .expect(200, { messages: ['saved'] });
    await bed.http().get('/sec/pop-flash').set('Cookie', cookie).expect(200, { messages: [] });
  });

  it('case 35: a flash set while a parallel request sets another key is neither lost nor duplicated', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const held = bed
      .http()
      .get('/sec/slow-write/flash-race/prefs')
      .set('Cookie', cookie)
      .then((r) => r);
    await bed.latches.reached('flash-race');
    await bed.http().get('/sec/flash/hello').set('Cookie', cookie).expect(200);
    bed.latches.open('flash-race');
    expect((await held).status).toBe(200);
    await bed
      .http()
      .get('/sec/pop-flash')
      .set('Cookie', cookie)
      .expect(200, { messages: ['hello'] });
    await bed
      .http()
      .get('/sec/dump')
      .set('Cookie', cookie)
      .expect((res) => expect(res.body.data.prefs).toBe('late'));
  });
});
