import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ADAPTERS, cookieOf, idOf, setCookies, signedCookie } from '../utils/app.js';
import { sessionBed, type SessionBed } from '../utils/sessions.js';

/** Cases F (serialization safety) of SECURITY-CASES.md. */
describe.each(ADAPTERS)('serialization safety on %s', (adapter) => {
  let bed: SessionBed;

  beforeAll(async () => {
    bed = await sessionBed(adapter, { maxSize: 2048 });
  });

  afterAll(async () => {
    await bed?.close();
  });

  async function stored(fields: Record<string, string>): Promise<string> {
    const id = `Z${Math.random().toString(36).slice(2).padEnd(42, 'z')}`.slice(0, 43);
    await bed.redis.client.hset(bed.key(id), { $c: String(Date.now()), ...fields });
    await bed.redis.client.pexpire(bed.key(id), 60_000);
    return id;
  }

  it('case 36: payloads meant for code-executing formats come back as inert data', async () => {
    const id = await stored({
      fn: JSON.stringify('_$$ND_FUNC$$_function(){process.exit(1)}()'),
      typed: JSON.stringify({ $type: 'System.Diagnostics.Process', cmd: 'rm -rf /' }),
      date: JSON.stringify('2026-01-01T00:00:00.000Z'),
    });
    const res = await bed.http().get('/sec/dump').set('Cookie', signedCookie(id)).expect(200);
    expect(res.body.data).toEqual({
      fn: '_$$ND_FUNC$$_function(){process.exit(1)}()',
      typed: { $type: 'System.Diagnostics.Process', cmd: 'rm -rf /' },
      date: '2026-01-01T00:00:00.000Z',
    });
  });

  it('case 37: __proto__ and constructor fields do not pollute prototypes or shadow anything', async () => {
    const id = await stored({
      // A computed key: a literal `__proto__:` would set the object's prototype instead of a field.
      ['__proto__']: JSON.stringify({ isAdmin: true }),
      constructor: JSON.stringify({ prototype: { x: 1 } }),
      regenerate: JSON.stringify('nope'),
      save: '1',
    });
    const res = await bed.http().get('/sec/dump').set('Cookie', signedCookie(id)).expect(200);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(res.body.keys.sort()).toEqual(['__proto__', 'constructor', 'regenerate', 'save']);
    expect(res.body.data.regenerate).toBe('nope');
    // The session still commits normally afterwards: the odd keys are plain data.
    await bed.http().get('/set/k/v').set('Cookie', signedCookie(id)).expect(200);
    expect(await bed.redis.client.hget(bed.key(id), 'k')).toBe('"v"');
    expect(await bed.redis.client.hget(bed.key(id), '__proto__')).toBe(
      JSON.stringify({ isAdmin: true }),
    );
  });

  it('case 38: non-JSON, truncated, wrong-type and meta-less data give a fresh session, never a 500', async () => {
    const bad = [
      await stored({ a: 'not json' }),
      await stored({ a: '{"truncated":' }),
      await stored({ $c: 'yesterday' }),
    ];
    const list = 'L'.repeat(43);
    await bed.redis.client.rpush(bed.key(list), 'x');
    const bare = 'M'.repeat(43);
    await bed.redis.client.hset(bed.key(bare), 'userId', '1');
    for (const id of [...bad, list, bare]) {
      for (let i = 0; i < 2; i++) {
        const res = await bed.http().get('/sec/dump').set('Cookie', signedCookie(id)).expect(200);
        expect(res.body.isNew).toBe(true);
      }
      const written = await bed
        .http()
        .get('/write')
        .set('Cookie', signedCookie(id))
        .expect(200, { counter: 1 });
      expect(idOf(cookieOf(written))).not.toBe(id);
    }
    await bed.redis.client.del(bed.key(list), bed.key(bare));
  });

  it('case 39: functions, symbols, BigInt, cycles and oversize values fail the commit, naming the key; nothing is written', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    const key = bed.key(idOf(cookie));
    const before = await bed.redis.client.hgetall(key);
    const logged: string[] = [];
    const spy = jest.spyOn(Logger.prototype, 'error').mockImplementation((message: any) => {
      logged.push(String(message));
    });
    try {
      for (const route of ['/sec/fn', '/sec/symbol', '/bigint', '/cycle', '/sec/huge']) {
        const res = await bed.http().get(route).set('Cookie', cookie).expect(500);
        expect(setCookies(res)).toEqual([]);
      }
    } finally {
      spy.mockRestore();
    }
    for (const key of ['"fn"', '"sym"', '"big"', '"loop"'])
      expect(logged.join('\n')).toContain(`Session value ${key} cannot be serialized`);
    expect(logged.join('\n')).toMatch(/more than max_size \(2048\)/);
    expect(await bed.redis.client.hgetall(key)).toEqual(before);
    await bed.http().get('/read').set('Cookie', cookie).expect(200, { counter: 1 });
  });
});
