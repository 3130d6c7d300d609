import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { createRequire } from 'node:module';
import passport from 'passport';
import passportLocal from 'passport-local';
import request from 'supertest';

/**
 * The applications a team runs before switching: express-session (+ passport-local) and
 * @fastify/session, both on connect-redis, as their READMEs set them up. Plain Express and
 * Fastify: the legacy side needs no Nest.
 */

// cookie-signature has no type declarations; it is express-session's own signer.
export const cookieSignature = createRequire(import.meta.url)('cookie-signature') as {
  sign(value: string, secret: string): string;
};

/**
 * connect-redis 10 calls the node-redis API (`set(k, v, { expiration })`, `del([k])`, `mGet`,
 * `scanIterator`); a plain ioredis client makes its SET fail and sessions silently never persist.
 * One command in, one command out (as bench/src/ioredis-shim.ts).
 */
export function ioredisForConnectRedis(redis: Redis) {
  return {
    get: (key: string) => redis.get(key),
    set: (
      key: string,
      value: string,
      options?: { expiration?: { type: string; value: number } },
    ) =>
      options?.expiration
        ? redis.set(key, value, options.expiration.type as 'EX', options.expiration.value)
        : redis.set(key, value),
    expire: (key: string, seconds: number) => redis.expire(key, seconds),
    del: (keys: string | string[]) => redis.del(...([] as string[]).concat(keys)),
    mGet: (keys: string[]) => redis.mget(keys),
    async *scanIterator({ MATCH, COUNT }: { MATCH: string; COUNT: number }) {
      for await (const keys of redis.scanStream({ match: MATCH, count: COUNT }))
        yield keys as string[];
    },
  };
}

/** A connect-redis store on ioredis. */
export function legacyStore(redis: Redis, prefix: string): RedisStore {
  return new RedisStore({ client: ioredisForConnectRedis(redis) as never, prefix });
}

/** The `name=value` pair of a Set-Cookie, as the browser sends it back. */
export function cookiePair(setCookie: string[] | string | undefined, name: string): string {
  const list = setCookie === undefined ? [] : ([] as string[]).concat(setCookie);
  const found = list.find((c) => c.startsWith(`${name}=`));
  if (found === undefined) throw new Error(`no ${name} cookie in ${JSON.stringify(list)}`);
  return found.split(';')[0];
}

/**
 * express-session + connect-redis + passport-local: POST /login logs `alice` in (password `pw`),
 * GET /cart/:item adds to `req.session.cart`. Returns a function that logs in and fills the cart,
 * resolving the browser's Cookie header.
 */
export function expressSessionApp(redis: Redis, options: { prefix: string; secrets: string[] }) {
  const app = express();
  const Local = passportLocal.Strategy;
  passport.use(
    new Local((username, password, done) =>
      password === 'pw' ? done(null, { name: username }) : done(null, false),
    ),
  );
  passport.serializeUser((user, done) => done(null, (user as { name: string }).name));
  passport.deserializeUser((name: string, done) => done(null, { name }));
  app.use(express.json());
  app.use(
    session({
      store: legacyStore(redis, options.prefix),
      secret: options.secrets,
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 3_600_000 },
    }),
  );
  app.use(passport.session());
  app.post('/login', passport.authenticate('local'), (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/cart/:item', (req, res) => {
    const data = req.session as unknown as Record<string, unknown>;
    const cart = (data.cart ??= { items: [] as string[] }) as { items: string[] };
    cart.items.push(req.params.item);
    // A key the new library must escape (it reserves `$` fields for itself).
    data.$visits = ((data.$visits as number) ?? 0) + 1;
    res.json({ user: req.user, cart });
  });
  app.get('/me', (req, res) => {
    res.json({ user: req.user ?? null });
  });
  return {
    app,
    /** Logs `user` in and adds `item` to the cart; the Cookie header the browser now sends. */
    async login(user = 'alice', item = 'apple'): Promise<string> {
      const login = await request(app)
        .post('/login')
        .send({ username: user, password: 'pw' })
        .expect(200);
      const cookie = cookiePair(login.headers['set-cookie'], 'connect.sid');
      await request(app).get(`/cart/${item}`).set('Cookie', cookie).expect(200);
      return cookie;
    },
  };
}

/** @fastify/session + @fastify/cookie + connect-redis: GET /login/:name stores `user`. */
export async function fastifySessionApp(
  redis: Redis,
  options: { prefix: string; secret: string },
): Promise<{ app: FastifyInstance; login(name?: string): Promise<string> }> {
  // fetch keeps connections alive: close them with the app, or close() waits for their timeout.
  const app = Fastify({ forceCloseConnections: true });
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: options.secret,
    store: legacyStore(redis, options.prefix) as never,
    saveUninitialized: false,
    cookie: { secure: false, maxAge: 3_600_000 },
  });
  app.get<{ Params: { name: string } }>('/login/:name', async (req) => {
    // Untyped key: the app declares no Session augmentation.
    (req.session as unknown as { set(key: string, value: unknown): void }).set('user', {
      name: req.params.name,
      roles: ['admin'],
    });
    return { ok: true };
  });
  // A real socket: fastify.inject pulls in an ESM-only module jest's CommonJS loader refuses.
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    async login(name = 'bob'): Promise<string> {
      const res = await fetch(`${base}/login/${name}`);
      if (res.status !== 200) throw new Error(`login answered ${res.status}`);
      return cookiePair(res.headers.getSetCookie(), 'sessionId');
    },
  };
}
