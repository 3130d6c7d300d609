import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { MemorySessionStore } from '../src/index.js';
import {
  BoundaryTestController,
  ReturnToGuard,
  StampInterceptor,
  VisitMiddleware,
} from './app/boundary-test.controller.js';
import { ADAPTERS, cookieOf, idOf, setCookies } from './utils/app.js';
import { STORES, sessionBed, type SessionBed } from './utils/sessions.js';

@Module({ providers: [VisitMiddleware] })
class VisitModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(VisitMiddleware).forRoutes('{*path}');
  }
}

/** The boundary test routes, with the guard and interceptor they use. */
const BOUNDARY_APP = {
  controllers: [BoundaryTestController],
  providers: [ReturnToGuard, StampInterceptor],
};

/** The session a cookie names, as the boundary routes dump it. */
async function dumpOf(bed: SessionBed, cookie: string): Promise<Record<string, unknown>> {
  return (await bed.http().get('/b/dump').set('Cookie', cookie).expect(200)).body.data;
}

/** One commit per HTTP response, wherever the session was loaded or written. */
describe.each(ADAPTERS)('the response boundary on %s', (adapter) => {
  describe.each(STORES)('with the %s store', (storeName) => {
    let bed: SessionBed;
    let store: MemorySessionStore | undefined;

    beforeAll(async () => {
      store = storeName === 'memory' ? new MemorySessionStore() : undefined;
      bed = await sessionBed(
        adapter,
        { store },
        { metadata: { ...BOUNDARY_APP, imports: [VisitModule] } },
      );
    });

    afterAll(async () => {
      await bed?.close();
    });

    const dump = (cookie: string) => dumpOf(bed, cookie);

    it('keeps what a guard wrote before it threw 401', async () => {
      const res = await bed.http().get('/b/private').expect(401);
      const cookie = cookieOf(res);
      expect(await dump(cookie)).toEqual({ returnTo: '/private' });
    });

    it('keeps what a middleware wrote on a path no route matches (404)', async () => {
      const res = await bed.http().get('/b/no-such-route').expect(404);
      expect(await dump(cookieOf(res))).toEqual({ lastMissing: '/b/no-such-route' });
    });

    it('keeps what an exception filter wrote, beside what the handler wrote', async () => {
      const res = await bed.http().get('/b/filtered').expect(418, { noted: 418 });
      expect(await dump(cookieOf(res))).toEqual({ beforeThrow: true, lastError: 418 });
    });

    it("commits an Observable handler at its end: the last value's writes, once", async () => {
      const res = await bed.http().get('/b/many').expect(200, { n: 3 });
      expect(setCookies(res)).toHaveLength(1);
      expect(await dump(cookieOf(res))).toEqual({ emitted: 3 });
    });

    it('commits an Observable handler that completes with no value', async () => {
      const res = await bed.http().get('/b/empty');
      expect(await dump(cookieOf(res))).toEqual({ empty: true });
    });

    it("saves what the app's own interceptor wrote after the handler", async () => {
      const res = await bed.http().get('/b/stamp').expect(200);
      expect(await dump(cookieOf(res))).toEqual({ stamped: true });
    });

    it('SSE: a new session is never created (no orphan key); an existing one is still saved', async () => {
      const before = (await bed.keys()).length;
      const anonymous = await bed.http().get('/b/events').expect(200);
      expect(anonymous.text).toContain('data: {"n":2}');
      expect(setCookies(anonymous)).toEqual([]);
      expect((await bed.keys()).length).toBe(before);
      const cookie = cookieOf(await bed.http().get('/write'));
      await bed.http().get('/b/events').set('Cookie', cookie).expect(200);
      expect(await dump(cookie)).toEqual({ counter: 1, streamed: 1 });
    });

    it('a streamed @Res() response: no orphan for a new session, an existing one saved', async () => {
      const before = (await bed.keys()).length;
      const anonymous = await bed.http().get('/b/stream').expect(200, 'a');
      expect(setCookies(anonymous)).toEqual([]);
      expect((await bed.keys()).length).toBe(before);
      const cookie = cookieOf(await bed.http().get('/write'));
      await bed.http().get('/b/stream').set('Cookie', cookie).expect(200, 'a');
      expect(await dump(cookie)).toEqual({ counter: 1, piped: true });
    });

    it.each([
      ['first', 'second'],
      ['second', 'first'],
    ])(
      'a double-submitted login leaves the browser logged in when the %s finishes last',
      async (early, late) => {
        const start = cookieOf(await bed.http().get('/write'));
        const gates = { first: `login-a-${early}`, second: `login-b-${early}` };
        const first = bed
          .http()
          .get(`/b/slow-login/${gates.first}`)
          .set('Cookie', start)
          .then((r) => r);
        const second = bed
          .http()
          .get(`/b/slow-login/${gates.second}`)
          .set('Cookie', start)
          .then((r) => r);
        await Promise.all([bed.latches.reached(gates.first), bed.latches.reached(gates.second)]);
        const responses: Record<string, Awaited<typeof first>> = {};
        bed.latches.open(gates[early as 'first']);
        responses[early] = await (early === 'first' ? first : second);
        bed.latches.open(gates[late as 'first']);
        responses[late] = await (late === 'first' ? first : second);
        // The browser applies the Set-Cookies in the order the responses arrive.
        let jar = start;
        for (const name of [early, late]) {
          const cookies = setCookies(responses[name]);
          if (cookies.length > 0) jar = cookies[0].split(';')[0];
        }
        expect(jar).not.toBe(start);
        const data = await dump(jar);
        expect(data.userId).toBe(gates[early as 'first']);
        expect(await bed.keys()).toEqual(expect.arrayContaining([bed.key(idOf(jar))]));
      },
    );

    it("a request that loaded before another's adjustTimeout keeps the longer TTL", async () => {
      if (store !== undefined) return expectLongTtlInMemory();
      const cookie = cookieOf(await bed.http().get('/write'));
      const key = bed.key(idOf(cookie));
      const slow = bed
        .http()
        .get('/b/slow-adjusted-write/stale-ttl')
        .set('Cookie', cookie)
        .then((r) => r);
      await bed.latches.reached('stale-ttl');
      await bed.http().get('/b/timeout/86400').set('Cookie', cookie).expect(200);
      bed.latches.open('stale-ttl');
      await slow;
      expect(await bed.redis.client.pttl(key)).toBeGreaterThan(1200_000);
      expect(await dump(cookie)).toMatchObject({ counter: 1, late: true });
    });

    async function expectLongTtlInMemory() {
      const cookie = cookieOf(await bed.http().get('/write'));
      const id = idOf(cookie);
      const slow = bed
        .http()
        .get('/b/slow-adjusted-write/stale-ttl-m')
        .set('Cookie', cookie)
        .then((r) => r);
      await bed.latches.reached('stale-ttl-m');
      await bed.http().get('/b/timeout/86400').set('Cookie', cookie).expect(200);
      bed.latches.open('stale-ttl-m');
      await slow;
      expect(store!.pttl(id)).toBeGreaterThan(1200_000);
    }

    it('a fractional timeout is honoured to the millisecond and never leaves a key without a TTL', async () => {
      const cookie = cookieOf(await bed.http().get('/write'));
      const id = idOf(cookie);
      await bed.http().get('/b/timeout/1.5').set('Cookie', cookie).expect(200);
      const ttl = store ? store.pttl(id) : await bed.redis.client.pttl(bed.key(id));
      expect(ttl).toBeGreaterThan(0);
      // 1.5 s, plus the touch slack a session of that timeout gets (a tenth: 150 ms).
      expect(ttl).toBeLessThanOrEqual(1650);
      await bed.http().get('/b/timeout/-1').set('Cookie', cookie).expect(500);
    });

    it('a key named __proto__ is plain data, from app code and after a round trip', async () => {
      const res = await bed
        .http()
        .get('/b/proto')
        .expect(200, { own: ['__proto__'] });
      const cookie = cookieOf(res);
      const after = await bed.http().get('/b/dump').set('Cookie', cookie).expect(200);
      expect(after.body.polluted).toBeNull();
      expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    });

    it('writes and rotates a session of 5,000 fields (chunked past Lua unpack limits)', async () => {
      const cookie = cookieOf(await bed.http().get('/b/big/5000').expect(200));
      const rotated = await bed.http().get('/b/regenerate').set('Cookie', cookie).expect(200);
      const next = cookieOf(rotated);
      const data = await dump(next);
      expect(Object.keys(data)).toHaveLength(5000);
      await bed
        .http()
        .get('/b/dump')
        .set('Cookie', cookie)
        .expect(200, { data: {}, polluted: null });
    });
  });
});

/** A store whose writes fail on demand, as Redis does when it goes away between load and commit. */
class FlakyStore extends MemorySessionStore {
  failing = false;
  override async update(id: string, set: string[], remove: string[], ttl: number) {
    if (this.failing) throw new Error('connection lost');
    return super.update(id, set, remove, ttl);
  }
}

describe.each(ADAPTERS)('a commit that fails at the boundary on %s', (adapter) => {
  let bed: SessionBed;
  const store = new FlakyStore();

  beforeAll(async () => {
    bed = await sessionBed(
      adapter,
      { store },
      { metadata: { controllers: [BoundaryTestController] } },
    );
  });

  afterAll(async () => {
    store.failing = false;
    await bed?.close();
  });

  it("keeps the handler's own error status (404), and answers 503 for a response that would have succeeded", async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    store.failing = true;
    try {
      const missing = await bed
        .http()
        .get('/b/missing-after-write')
        .set('Cookie', cookie)
        .expect(404);
      expect(missing.body.message).toBe('gone');
      const ok = await bed.http().get('/write').set('Cookie', cookie).expect(503);
      expect(ok.body).toEqual({
        statusCode: 503,
        message: 'Session store unavailable',
        error: 'Service Unavailable',
      });
      expect(setCookies(ok)).toEqual([]);
    } finally {
      store.failing = false;
    }
  });
});

/**
 * `globalInterceptor: false` alone: `@Session()` loads by itself, and handlers that answer on the
 * raw response (SSE, `@Res()`) are still committed, Fastify's `onSend` never seeing them.
 */
describe.each(ADAPTERS)('the response boundary on %s without the global interceptor', (adapter) => {
  let bed: SessionBed;

  beforeAll(async () => {
    bed = await sessionBed(adapter, { globalInterceptor: false }, { metadata: BOUNDARY_APP });
  });

  afterAll(async () => {
    await bed?.close();
  });

  const dump = (cookie: string) => dumpOf(bed, cookie);

  it('saves what a handler taking @Session() wrote, with no @UseSession()', async () => {
    const res = await bed.http().get('/write').expect(200, { counter: 1 });
    await bed.http().get('/write').set('Cookie', cookieOf(res)).expect(200, { counter: 2 });
  });

  it('saves the session of an SSE route and of a streamed @Res() response', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    await bed.http().get('/b/events').set('Cookie', cookie).expect(200);
    await bed.http().get('/b/stream').set('Cookie', cookie).expect(200, 'a');
    expect(await dump(cookie)).toEqual({ counter: 1, streamed: 1, piped: true });
  });
});

type Writer = (this: unknown, ...args: unknown[]) => unknown;

/**
 * What compression (and similar middleware) does: its own `write` and `end` on the response
 * itself, the body of `end(chunk)` sent through `write` first. Only for requests that ask for it
 * (X-Wrap: 1), so one app serves wrapped and unwrapped responses side by side.
 */
function wrapWhenAsked(
  req: { headers: Record<string, unknown> },
  res: Record<string, Writer>,
  next: () => void,
) {
  if (req.headers['x-wrap'] === '1') {
    const write = res.write;
    const end = res.end;
    res.write = function (...args: unknown[]) {
      return write.apply(this, args);
    };
    res.end = function (chunk?: unknown) {
      if (chunk !== undefined && typeof chunk !== 'function') write.call(this, chunk);
      return end.call(this);
    };
  }
  next();
}

@Module({})
class WrapsResponsesModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(wrapWhenAsked).forRoutes('{*path}');
  }
}

describe.each(ADAPTERS)('responses another middleware wrapped, on %s', (adapter) => {
  let bed: SessionBed;

  beforeAll(async () => {
    bed = await sessionBed(adapter, {}, { metadata: { imports: [WrapsResponsesModule] } });
  });

  afterAll(async () => {
    await bed?.close();
  });

  it('still carry the cookie of a new session, and its body', async () => {
    const res = await bed.http().get('/write').set('X-Wrap', '1').expect(200, { counter: 1 });
    const cookie = cookieOf(res);
    await bed
      .http()
      .get('/write')
      .set('Cookie', cookie)
      .set('X-Wrap', '1')
      .expect(200, { counter: 2 });
    expect(await bed.redis.client.hget(bed.key(idOf(cookie)), 'counter')).toBe('2');
  });

  it('each keeps its body and the session its writes, in any order', async () => {
    const untouched = async () => {
      const res = await bed.http().get('/none').expect(200);
      expect(setCookies(res)).toEqual([]);
    };
    await untouched();
    const cookie = cookieOf(await bed.http().get('/write').expect(200, { counter: 1 }));
    await untouched();
    await bed
      .http()
      .get('/write')
      .set('Cookie', cookie)
      .set('X-Wrap', '1')
      .expect(200, { counter: 2 });
    await bed.http().get('/none').set('X-Wrap', '1').expect(200);
    await bed.http().get('/write').set('Cookie', cookie).expect(200, { counter: 3 });
    await untouched();
    expect(await bed.redis.client.hget(bed.key(idOf(cookie)), 'counter')).toBe('3');
    // A new session on a wrapped response still gets its cookie.
    const wrapped = await bed.http().get('/write').set('X-Wrap', '1').expect(200, { counter: 1 });
    expect(await bed.redis.client.hget(bed.key(idOf(cookieOf(wrapped))), 'counter')).toBe('1');
  });
});
