import type { INestApplication } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import type { MercuriusDriverConfig } from '@nestjs/mercurius';
import { CSRF_REJECTED_MESSAGE } from '../../src/index.js';
import {
  GRAPHQL_TEST_TYPE_DEFS,
  GraphqlTestResolver,
  SessionViewResolver,
} from '../app/graphql-test.resolver.js';
import { cookieOf, idOf, request, setCookies, type AdapterName } from '../utils/app.js';
import { scanAll, startRedis, type RedisHandle } from '../utils/redis-server.js';
import { integrationApp, roundTripCounter, userFields } from './harness.js';
import { requireEsmInJest } from './require-esm.js';

// Mercurius require()s an ES module, which Jest's loader cannot do: load it after the shim.
await requireEsmInJest();
const { MercuriusDriver } = await import('@nestjs/mercurius');

/** The two GraphQL servers Nest ships drivers for, each on the platform it runs on. */
const SERVERS: { name: string; adapter: AdapterName; module: () => unknown }[] = [
  {
    name: 'Apollo on Express',
    adapter: 'express',
    module: () =>
      GraphQLModule.forRoot<ApolloDriverConfig>({
        driver: ApolloDriver,
        typeDefs: GRAPHQL_TEST_TYPE_DEFS,
        graphiql: false,
        allowBatchedHttpRequests: true,
      }),
  },
  {
    name: 'Mercurius on Fastify',
    adapter: 'fastify',
    module: () =>
      GraphQLModule.forRoot<MercuriusDriverConfig>({
        driver: MercuriusDriver,
        typeDefs: GRAPHQL_TEST_TYPE_DEFS,
        graphiql: false,
        allowBatchedQueries: true,
      }),
  },
];

type GraphqlResult = { data?: Record<string, unknown> | null; errors?: { message: string }[] };

describe.each(SERVERS)('sessions in GraphQL resolvers: $name', ({ adapter, module }) => {
  let redis: RedisHandle;
  let app: INestApplication;
  let counter: Awaited<ReturnType<typeof roundTripCounter>>;

  beforeAll(async () => {
    // A Redis of its own: MONITOR must see only this app's commands.
    redis = await startRedis({ own: true });
    app = await integrationApp(adapter, redis, {
      imports: [module() as never],
      providers: [GraphqlTestResolver, SessionViewResolver],
    });
    counter = await roundTripCounter(redis);
  });

  afterAll(async () => {
    await counter?.close();
    await app?.close();
    await redis?.stop();
  });

  /** POSTs one operation (or a batch) to /graphql, with the cookie and headers given. */
  function gql(body: object, cookie?: string, headers: Record<string, string> = {}) {
    const req = request(app.getHttpServer()).post('/graphql').set(headers);
    if (cookie) req.set('Cookie', cookie);
    return req.send(body).expect(200);
  }

  /** A session holding `n`, made by a mutation; its cookie. */
  async function sessionWith(n: number): Promise<string> {
    const cookie = cookieOf(await gql({ query: 'mutation { increment }' }));
    for (let i = 1; i < n; i++) await gql({ query: 'mutation { increment }' }, cookie);
    return cookie;
  }

  const keys = () => scanAll(redis.client, `${redis.prefix}*`);

  it('a hung Redis gives a field that needs the session "Session store unavailable", then recovers', async () => {
    const cookie = await sessionWith(1);
    redis.process!.kill('SIGSTOP');
    let res: { body: GraphqlResult & { errors?: { extensions?: { status?: number } }[] } };
    try {
      res = await gql({ query: '{ counter }' }, cookie);
    } finally {
      redis.process!.kill('SIGCONT');
    }
    expect(res.body.errors).toEqual([
      expect.objectContaining({ message: 'Session store unavailable' }),
    ]);
    // @nestjs/apollo names no code for a 503; the status is how a client tells an outage.
    if (adapter === 'express') expect(res.body.errors![0].extensions?.status).toBe(503);
    expect((await gql({ query: '{ counter }' }, cookie)).body).toEqual({ data: { counter: 1 } });
  });

  it('a query reads the session, a mutation writes it, and the next request sees the write', async () => {
    const before = await keys();
    const anonymous = await counter.during(async () => {
      const res = await gql({ query: '{ counter }' });
      expect(res.body).toEqual({ data: { counter: null } });
      expect(setCookies(res)).toEqual([]);
    });
    // No cookie, nothing written: no Redis command, no session.
    expect(anonymous.trips).toEqual([]);
    expect(await keys()).toEqual(before);

    let cookie = '';
    const created = await counter.during(async () => {
      const res = await gql({ query: 'mutation { increment }' });
      expect(res.body).toEqual({ data: { increment: 1 } });
      cookie = cookieOf(res);
    });
    expect(created.trips).toEqual(['create']);
    expect(await userFields(redis, idOf(cookie))).toEqual({ n: 1 });

    const read = await counter.during(async () => {
      const res = await gql({ query: '{ counter }' }, cookie);
      expect(res.body).toEqual({ data: { counter: 1 } });
      expect(setCookies(res)).toEqual([]);
    });
    expect(read.trips).toEqual(['load']);

    const written = await counter.during(async () => {
      const res = await gql({ query: 'mutation { increment }' }, cookie);
      expect(res.body).toEqual({ data: { increment: 2 } });
    });
    expect(written.trips).toEqual(['load', 'update']);
    expect(await userFields(redis, idOf(cookie))).toEqual({ n: 2 });
    expect((await gql({ query: '{ counter }' }, cookie)).body).toEqual({ data: { counter: 2 } });
  });

  it('two mutation fields in one document are saved together, in one write', async () => {
    const cookie = await sessionWith(1);
    const id = idOf(cookie);
    const { trips, writes } = await counter.during(async () => {
      const res = await gql(
        { query: 'mutation { a: setA(value: "x") b: setB(value: "y") }' },
        cookie,
      );
      expect(res.body).toEqual({ data: { a: 'x', b: 'y' } });
    });
    expect(trips).toEqual(['load', 'update']);
    // Inside that one script: a single HSET carrying both fields.
    expect(writes).toEqual([['hset', redis.prefix + id, 'a', '"x"', 'b', '"y"']]);
    expect(await userFields(redis, id)).toEqual({ n: 1, a: 'x', b: 'y' });
  });

  it('two mutation fields on a new session create it once, with one cookie', async () => {
    let cookie = '';
    const { trips } = await counter.during(async () => {
      const res = await gql({ query: 'mutation { a: setA(value: "p") b: setB(value: "q") }' });
      expect(setCookies(res)).toHaveLength(1);
      cookie = cookieOf(res);
    });
    expect(trips).toEqual(['create']);
    expect(await userFields(redis, idOf(cookie))).toEqual({ a: 'p', b: 'q' });
  });

  it('batched operations in one HTTP request share one session and one commit', async () => {
    // A new session: both mutations write the same object, which is created once.
    let cookie = '';
    const fresh = await counter.during(async () => {
      const res = await gql([
        { query: 'mutation { increment }' },
        { query: 'mutation { increment }' },
      ]);
      const results = (res.body as GraphqlResult[]).map((r) => r.data?.increment);
      expect(results.sort()).toEqual([1, 2]);
      expect(setCookies(res)).toHaveLength(1);
      cookie = cookieOf(res);
    });
    expect(fresh.trips).toEqual(['create']);
    expect(await userFields(redis, idOf(cookie))).toEqual({ n: 2 });

    // An existing session: every operation of the batch sees it, loaded once.
    const reads = await counter.during(async () => {
      const res = await gql(
        [{ query: '{ view { id n } }' }, { query: '{ view { id n } }' }],
        cookie,
      );
      const expected = { data: { view: { id: idOf(cookie), n: 2 } } };
      expect(res.body).toEqual([expected, expected]);
    });
    expect(reads.trips).toEqual(['load']);

    const writes = await counter.during(async () => {
      const res = await gql(
        [{ query: 'mutation { increment }' }, { query: 'mutation { increment }' }],
        cookie,
      );
      const results = (res.body as GraphqlResult[]).map((r) => r.data?.increment);
      expect(results.sort()).toEqual([3, 4]);
      expect(setCookies(res)).toEqual([]);
    });
    expect(writes.trips).toEqual(['load', 'update']);
    expect(await userFields(redis, idOf(cookie))).toEqual({ n: 4 });
  });

  it('a field resolver taking @Session() gets the same session, with no second load', async () => {
    const cookie = await sessionWith(2);
    const { trips } = await counter.during(async () => {
      const res = await gql({ query: '{ view { n seenByField } }' }, cookie);
      expect(res.body).toEqual({ data: { view: { n: 2, seenByField: 2 } } });
    });
    expect(trips).toEqual(['load']);
  });

  it('CsrfGuard refuses a mutation without the X-CSRF-Token header, and writes nothing', async () => {
    const cookie = await sessionWith(1);
    const id = idOf(cookie);
    const missing = await counter.during(async () => {
      const res = await gql({ query: 'mutation { guardedIncrement }' }, cookie);
      const body = res.body as GraphqlResult;
      expect(body.data ?? null).toBeNull();
      expect(body.errors?.map((e) => e.message)).toEqual([CSRF_REJECTED_MESSAGE]);
    });
    // Refused before anything loaded the session.
    expect(missing.trips).toEqual([]);

    const wrong = await counter.during(async () => {
      const res = await gql({ query: 'mutation { guardedIncrement }' }, cookie, {
        'X-CSRF-Token': 'not-the-token',
      });
      expect((res.body as GraphqlResult).errors?.map((e) => e.message)).toEqual([
        CSRF_REJECTED_MESSAGE,
      ]);
    });
    expect(wrong.trips).toEqual(['load']);
    expect(await userFields(redis, id)).toEqual({ n: 1 });
  });

  it("CsrfGuard accepts a mutation carrying the session's token in X-CSRF-Token", async () => {
    const cookie = await sessionWith(1);
    const id = idOf(cookie);
    // The first token is made (and saved) by the query that hands it out.
    const issued = await counter.during(async () => {
      const res = await gql({ query: '{ csrfToken }' }, cookie);
      expect(setCookies(res)).toEqual([]);
    });
    expect(issued.trips).toEqual(['load', 'update']);
    const token = ((await gql({ query: '{ csrfToken }' }, cookie)).body as GraphqlResult).data!
      .csrfToken as string;
    expect(await redis.client.hget(redis.prefix + id, '$x')).toBe(JSON.stringify(token));

    const accepted = await counter.during(async () => {
      const res = await gql({ query: 'mutation { guardedIncrement }' }, cookie, {
        'X-CSRF-Token': token,
      });
      expect(res.body).toEqual({ data: { guardedIncrement: 2 } });
    });
    expect(accepted.trips).toEqual(['load', 'update']);
    expect(await userFields(redis, id)).toEqual({ n: 2 });

    // The token is bound to its session: another session's cookie with it is refused.
    const other = await sessionWith(5);
    const res = await gql({ query: 'mutation { guardedIncrement }' }, other, {
      'X-CSRF-Token': token,
    });
    expect((res.body as GraphqlResult).errors?.map((e) => e.message)).toEqual([
      CSRF_REJECTED_MESSAGE,
    ]);
    expect(await userFields(redis, idOf(other))).toEqual({ n: 5 });
  });

  it('a login rotates the CSRF token, yet the next guarded field of the same document passes', async () => {
    const cookie = await sessionWith(1);
    await gql({ query: '{ csrfToken }' }, cookie);
    const token = ((await gql({ query: '{ csrfToken }' }, cookie)).body as GraphqlResult).data!
      .csrfToken as string;
    const res = await gql(
      { query: 'mutation { guardedLogin(user: "u5") guardedIncrement }' },
      cookie,
      { 'X-CSRF-Token': token },
    );
    expect(res.body).toEqual({ data: { guardedLogin: 'u5', guardedIncrement: 2 } });
    const rotated = cookieOf(res);
    expect(idOf(rotated)).not.toBe(idOf(cookie));
    expect((await gql({ query: '{ whoami counter }' }, rotated)).body).toEqual({
      data: { whoami: 'u5', counter: 2 },
    });
    // The old token went with the login: the next request needs the new one.
    const stale = await gql({ query: 'mutation { guardedIncrement }' }, rotated, {
      'X-CSRF-Token': token,
    });
    expect((stale.body as GraphqlResult).errors?.map((e) => e.message)).toEqual([
      CSRF_REJECTED_MESSAGE,
    ]);
  });

  it('a guard refusing a later field fails the request: the login before it is dropped', async () => {
    const cookie = await sessionWith(1);
    const res = await gql({ query: 'mutation { login(user: "u6") refused }' }, cookie);
    const body = res.body as GraphqlResult;
    expect(body.data?.login).toBe('u6');
    expect(body.errors?.map((e) => e.message)).toEqual(['refused by the app']);
    // No new id, no binding: the request failed, so its identity change was not made.
    expect(setCookies(res)).toEqual([]);
    expect((await gql({ query: '{ whoami counter }' }, cookie)).body).toEqual({
      data: { whoami: null, counter: 1 },
    });
  });

  it('SessionService.load(ctx.req) in a resolver reads and writes the same session', async () => {
    const cookie = await sessionWith(3);
    const id = idOf(cookie);
    const read = await counter.during(async () => {
      const res = await gql({ query: '{ loadedCounter counter }' }, cookie);
      expect(res.body).toEqual({ data: { loadedCounter: 3, counter: 3 } });
    });
    // load() and @Session() in one document: one load.
    expect(read.trips).toEqual(['load']);

    const written = await counter.during(async () => {
      const res = await gql({ query: 'mutation { loadIncrement }' }, cookie);
      expect(res.body).toEqual({ data: { loadIncrement: 4 } });
    });
    expect(written.trips).toEqual(['load', 'update']);
    expect(await userFields(redis, id)).toEqual({ n: 4 });

    // On a request without a cookie the session it writes is created, with its cookie.
    let created = '';
    const fresh = await counter.during(async () => {
      const res = await gql({ query: 'mutation { loadIncrement }' });
      expect(res.body).toEqual({ data: { loadIncrement: 1 } });
      created = cookieOf(res);
    });
    expect(fresh.trips).toEqual(['create']);
    expect(await userFields(redis, idOf(created))).toEqual({ n: 1 });
    expect((await gql({ query: '{ loadedCounter }' }, created)).body).toEqual({
      data: { loadedCounter: 1 },
    });
  });
});
