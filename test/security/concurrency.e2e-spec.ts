import type { AddressInfo } from 'node:net';
import { ADAPTERS, cookieOf, idOf, setCookies } from '../utils/app.js';
import { sessionBed, type SessionBed } from '../utils/sessions.js';

/** Cases 26, 29 and H (concurrency) of SECURITY-CASES.md, with races played in a fixed order. */
describe.each(ADAPTERS)('concurrency on %s', (adapter) => {
  let bed: SessionBed;

  beforeAll(async () => {
    bed = await sessionBed(adapter);
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('case 26: a slow request that commits after a logout does not bring the session back', async () => {
    const cookie = cookieOf(await bed.http().get('/sec/login'));
    const key = bed.key(idOf(cookie));
    const slow = bed
      .http()
      .get('/sec/slow-write/resurrect/late')
      .set('Cookie', cookie)
      .then((r) => r);
    await bed.latches.reached('resurrect');
    await bed.http().get('/sec/logout').set('Cookie', cookie).expect(200);
    bed.latches.open('resurrect');
    const res = await slow;
    expect(res.status).toBe(200);
    // The loser of a race sends no Set-Cookie: a clearing one would log the winner's browser out.
    expect(setCookies(res)).toEqual([]);
    expect(await bed.redis.client.exists(key)).toBe(0);
  });

  it('case 46: 20 parallel requests on one session, each setting a different key: all 20 survive', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        bed.http().get(`/set/key${i}/v${i}`).set('Cookie', cookie),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const fields = await bed.redis.client.hgetall(bed.key(idOf(cookie)));
    for (let i = 0; i < 20; i++) expect(fields[`key${i}`]).toBe(`"v${i}"`);
    expect(fields.counter).toBe('1');
  });

  it('case 47: a read that overlaps a write and a logout neither rolls back the write nor revives the session', async () => {
    const cookie = cookieOf(await bed.http().get('/sec/login'));
    const key = bed.key(idOf(cookie));
    const reader = bed
      .http()
      .get('/sec/slow-read/reader')
      .set('Cookie', cookie)
      .then((r) => r);
    await bed.latches.reached('reader');
    await bed.http().get('/set/color/blue').set('Cookie', cookie).expect(200);
    bed.latches.open('reader');
    expect((await reader).body).toEqual({ userId: 7 });
    expect(await bed.redis.client.hget(key, 'color')).toBe('"blue"');

    const reader2 = bed
      .http()
      .get('/sec/slow-read/reader2')
      .set('Cookie', cookie)
      .then((r) => r);
    await bed.latches.reached('reader2');
    await bed.http().get('/sec/logout').set('Cookie', cookie).expect(200);
    bed.latches.open('reader2');
    expect((await reader2).status).toBe(200);
    expect(await bed.redis.client.exists(key)).toBe(0);
  });

  it('case 50: two parallel regenerates leave exactly one successor and no orphan', async () => {
    const cookie = cookieOf(await bed.http().get('/sec/login'));
    const first = bed
      .http()
      .get('/sec/slow-regenerate/regen-a')
      .set('Cookie', cookie)
      .then((r) => r);
    const second = bed
      .http()
      .get('/sec/slow-regenerate/regen-b')
      .set('Cookie', cookie)
      .then((r) => r);
    await Promise.all([bed.latches.reached('regen-a'), bed.latches.reached('regen-b')]);
    bed.latches.open('regen-a');
    const a = await first;
    bed.latches.open('regen-b');
    const b = await second;
    const keys = await bed.keys();
    expect(
      keys.filter((k) => [a.body.id, b.body.id, idOf(cookie)].some((id) => k === bed.key(id))),
    ).toEqual([bed.key(a.body.id)]);
    expect(idOf(cookieOf(a))).toBe(a.body.id);
    // The loser sends no Set-Cookie, so the browser keeps the winner's cookie whatever the order.
    expect(setCookies(b)).toEqual([]);
  });

  it('case 50: regenerate racing a logout leaves no key at all', async () => {
    const cookie = cookieOf(await bed.http().get('/sec/login'));
    const regen = bed
      .http()
      .get('/sec/slow-regenerate/regen-logout')
      .set('Cookie', cookie)
      .then((r) => r);
    await bed.latches.reached('regen-logout');
    await bed.http().get('/sec/logout').set('Cookie', cookie).expect(200);
    bed.latches.open('regen-logout');
    const res = await regen;
    expect(await bed.redis.client.exists(bed.key(res.body.id))).toBe(0);
    expect(await bed.redis.client.exists(bed.key(idOf(cookie)))).toBe(0);
  });

  it('case 29: 10,000 requests without a cookie, with random or forged cookies create no key and set no cookie', async () => {
    const server = bed.app.getHttpServer();
    if (!server.listening)
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const before = (await bed.keys()).length;
    const realId = idOf(cookieOf(await bed.http().get('/write')));
    const cookies = [
      undefined,
      () => `session=${Math.random().toString(36).repeat(4)}`,
      () => `session=${realId}.${'A'.repeat(43)}`,
    ];
    let setCookieCount = 0;
    let statuses = 0;
    const total = 10_000;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        const make = cookies[i % cookies.length];
        const res = await fetch(`http://127.0.0.1:${port}/sec/dump`, {
          headers: make ? { cookie: make() } : {},
        });
        await res.arrayBuffer();
        if (res.status === 200) statuses++;
        if (res.headers.get('set-cookie')) setCookieCount++;
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    expect(statuses).toBe(total);
    expect(setCookieCount).toBe(0);
    expect((await bed.keys()).length).toBe(before + 1);
    // A flood is bounded by its count, not by time: a slow or shared machine gets room.
  }, 180_000);
});
