import { Redis } from 'ioredis';
import { deriveSessionId } from '../../src/legacy/legacy-session.codec.js';
import {
  LegacySessionImporter,
  type LegacyLogger,
  type LegacySessionOptions,
} from '../../src/legacy/legacy-session.importer.js';
import { RedisSessionStore } from '../../src/store/redis-session.store.js';
import { freePort, monitor, scanAll, startRedis, type RedisHandle } from '../utils/redis-server.js';
import { cookieSignature, expressSessionApp, fastifySessionApp } from './legacy-apps.js';

/**
 * A team on express-session (or @fastify/session) + connect-redis switches: their browsers' old
 * cookies lead, on the first request, to a session of this library with the same data. Real
 * legacy apps on a real Redis; round trips counted on Redis itself (MONITOR).
 */

const OUR_SECRET = 'our-secret-our-secret-our-secret-0123456';
const LEGACY_SECRET = 'legacy-secret-legacy-secret-legacy-0123';
const FASTIFY_SECRET = 'fastify-secret-with-at-least-32-characters';
const TIMEOUT_MS = 1_200_000;

let redis: RedisHandle;
let watch: Awaited<ReturnType<typeof monitor>>;
let store: RedisSessionStore;
let legacyPrefix: string;
let ourPrefix: string;
let express: ReturnType<typeof expressSessionApp>;
let fastify: Awaited<ReturnType<typeof fastifySessionApp>>;
let logs: [string, string][];

const log: LegacyLogger = (level, message) => logs.push([level, message]);

function importer(options: Partial<LegacySessionOptions> = {}): LegacySessionImporter {
  const legacy = { cookieName: 'connect.sid', secrets: [LEGACY_SECRET], prefix: legacyPrefix };
  return new LegacySessionImporter(
    { ...legacy, ...options },
    redis.client,
    store,
    OUR_SECRET,
    TIMEOUT_MS,
    log,
  );
}

/** The legacy id inside a browser's Cookie header (either form). */
function legacyIdOf(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  return value.replace(/^s:/, '').replace(/\.[^.]*$/, '');
}

/** Commands that reached Redis for our keys or the legacy ones while `work` ran. */
async function commands(work: () => Promise<unknown>): Promise<string[]> {
  await watch.settle();
  watch.clear();
  await work();
  await watch.settle();
  return watch
    .roundTrips(redis.prefix)
    .map((c) => (c.name === 'eval' || c.name === 'evalsha' ? 'script' : c.name));
}

const decoded = (fields: Map<string, string>) =>
  Object.fromEntries([...fields].map(([field, text]) => [field, JSON.parse(text)]));

beforeAll(async () => {
  // A Redis of its own: MONITOR must see only these commands.
  redis = await startRedis({ own: true });
  legacyPrefix = `${redis.prefix}sess:`;
  ourPrefix = `${redis.prefix}session:`;
  store = new RedisSessionStore(redis.client, ourPrefix);
  express = expressSessionApp(redis.client, { prefix: legacyPrefix, secrets: [LEGACY_SECRET] });
  fastify = await fastifySessionApp(redis.client, { prefix: legacyPrefix, secret: FASTIFY_SECRET });
  watch = await monitor(redis.url);
});

afterAll(async () => {
  await fastify?.app.close();
  await watch?.close();
  await redis?.stop();
});

beforeEach(() => {
  logs = [];
});

describe('an express-session + passport session', () => {
  it('moves on the first request: same data, passport.user intact, no cookie field, legacy key gone', async () => {
    const cookie = await express.login('alice', 'apple');
    const legacyId = legacyIdOf(cookie);
    const stored = JSON.parse((await redis.client.get(legacyPrefix + legacyId))!);
    expect(stored.passport).toEqual({ user: 'alice' });

    let adopted: Awaited<ReturnType<LegacySessionImporter['adopt']>> = null;
    const sent = await commands(async () => {
      adopted = await importer().adopt(`other=1; ${cookie}`);
    });
    // load (miss) · GET + PTTL (one pipeline) · create · DEL: 4 round trips, once per browser.
    expect(sent).toEqual(['script', 'get', 'pttl', 'script', 'del']);
    expect(adopted).not.toBeNull();
    const { id, clearCookie, fields } = adopted!;
    expect(id).toBe(deriveSessionId(legacyId, OUR_SECRET));
    expect(id).not.toBe(legacyId);
    expect(clearCookie).toBe(
      'connect.sid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly',
    );

    const loaded = (await store.load(id, TIMEOUT_MS)) as Map<string, string>;
    expect(loaded).toEqual(fields);
    const data = decoded(loaded);
    expect(data.passport).toEqual({ user: 'alice' });
    expect(data.cart).toEqual({ items: ['apple'] });
    expect(data.$$visits).toBe(1);
    expect(data.cookie).toBeUndefined();
    expect(Number(loaded.get('$c'))).toBeGreaterThan(Date.now() - 60_000);
    expect(await redis.client.exists(legacyPrefix + legacyId)).toBe(0);
    const ttl = await redis.client.pttl(ourPrefix + id);
    expect(ttl).toBeGreaterThan(TIMEOUT_MS - 5000);
    expect(ttl).toBeLessThanOrEqual(TIMEOUT_MS);
    expect(logs.map(([, m]) => m).join('\n')).not.toContain(legacyId);
  });

  it('replays in one round trip to the same id, creating nothing', async () => {
    const cookie = await express.login('carol');
    const first = await importer().adopt(cookie);
    const keysBefore = await scanAll(redis.client, `${ourPrefix}*`);
    let again: typeof first = null;
    const sent = await commands(async () => {
      again = await importer().adopt(cookie);
    });
    expect(sent).toEqual(['script']);
    expect(again!.id).toBe(first!.id);
    expect(decoded(again!.fields).passport).toEqual({ user: 'carol' });
    expect(await scanAll(redis.client, `${ourPrefix}*`)).toHaveLength(keysBefore.length);
  });

  it('keeps the legacy key with keep: true, and still replays to the same session', async () => {
    const cookie = await express.login('dave');
    const legacyKey = legacyPrefix + legacyIdOf(cookie);
    const keeping = importer({ keep: true });
    let first: Awaited<ReturnType<LegacySessionImporter['adopt']>> = null;
    const sent = await commands(async () => {
      first = await keeping.adopt(cookie);
    });
    expect(sent).toEqual(['script', 'get', 'pttl', 'script']);
    expect(await redis.client.exists(legacyKey)).toBe(1);
    const again = await keeping.adopt(cookie);
    expect(again!.id).toBe(first!.id);
    // The old app, still running during a rolling deploy, keeps its session too.
    const me = await (
      await import('supertest')
    )
      .default(express.app)
      .get('/me')
      .set('Cookie', cookie);
    expect(me.body.user).toEqual({ name: 'dave' });
  });

  it('gives one session to concurrent first requests carrying the same legacy cookie', async () => {
    const cookie = await express.login('erin', 'pear');
    const legacyId = legacyIdOf(cookie);
    const many = await Promise.all(Array.from({ length: 8 }, () => importer().adopt(cookie)));
    const id = deriveSessionId(legacyId, OUR_SECRET);
    for (const adopted of many) {
      expect(adopted?.id).toBe(id);
      expect(decoded(adopted!.fields).passport).toEqual({ user: 'erin' });
    }
    const ours = await scanAll(redis.client, `${ourPrefix}*`);
    expect(ours.filter((key) => key === ourPrefix + id)).toHaveLength(1);
    expect(decoded((await store.load(id, TIMEOUT_MS)) as Map<string, string>).cart).toEqual({
      items: ['pear'],
    });
    expect(await redis.client.exists(legacyPrefix + legacyId)).toBe(0);
  });

  it('accepts a cookie signed with an older legacy secret', async () => {
    const older = 'older-legacy-secret-older-legacy-secret';
    const legacyId = 'olderSecretSession-0123456789abcd';
    await redis.client.set(
      legacyPrefix + legacyId,
      JSON.stringify({ cookie: { path: '/', expires: null }, passport: { user: 'old' } }),
      'EX',
      600,
    );
    const cookie = `connect.sid=${encodeURIComponent(`s:${cookieSignature.sign(legacyId, older)}`)}`;
    const adopted = await importer({ secrets: [LEGACY_SECRET, older] }).adopt(cookie);
    expect(decoded(adopted!.fields).passport).toEqual({ user: 'old' });
  });
});

describe('a @fastify/session session', () => {
  it('moves the same way from its <id>.<sig> cookie', async () => {
    const cookie = await fastify.login('bob');
    const legacyId = legacyIdOf(cookie);
    const adopted = await importer({ cookieName: 'sessionId', secrets: [FASTIFY_SECRET] }).adopt(
      cookie,
    );
    expect(adopted!.id).toBe(deriveSessionId(legacyId, OUR_SECRET));
    expect(adopted!.clearCookie.startsWith('sessionId=; Max-Age=0; Path=/;')).toBe(true);
    const data = decoded((await store.load(adopted!.id, TIMEOUT_MS)) as Map<string, string>);
    expect(data.user).toEqual({ name: 'bob', roles: ['admin'] });
    expect(data.cookie).toBeUndefined();
    expect(await redis.client.exists(legacyPrefix + legacyId)).toBe(0);
  });
});

describe('what is not moved', () => {
  /** A legacy cookie for `legacyId`, signed as express-session does. */
  const signed = (legacyId: string, secret = LEGACY_SECRET) =>
    `connect.sid=${encodeURIComponent(`s:${cookieSignature.sign(legacyId, secret)}`)}`;

  it('costs nothing without a legacy cookie, or with one signed by an unknown secret', async () => {
    const cookie = await express.login('frank');
    const quiet = importer();
    const sent = await commands(async () => {
      expect(await quiet.adopt(undefined)).toBeNull();
      expect(await quiet.adopt('')).toBeNull();
      expect(await quiet.adopt('session=abc.def; theme=dark')).toBeNull();
      expect(
        await importer({ secrets: ['not-the-secret-not-the-secret-0000'] }).adopt(cookie),
      ).toBeNull();
      expect(await quiet.adopt('connect.sid=s%3Aforged.AAAA')).toBeNull();
    });
    expect(sent).toEqual([]);
    // The unknown secret and the forged value, each the first of its importer, and none of them
    // having verified a cookie yet: warnings (wrong secrets log everyone out); nothing for
    // cookies that are not the legacy one.
    expect(logs.map(([level]) => level)).toEqual(['warn', 'warn']);
    expect(logs[0][1]).toContain('not signed by any legacy secret');
    expect(logs[0][1]).not.toContain(legacyIdOf(cookie));
    expect(await redis.client.exists(legacyPrefix + legacyIdOf(cookie))).toBe(1);
  });

  it('clears the cookie of an expired session (cookie.expires past), leaving no trace of it in logs', async () => {
    const legacyId = 'expiredSession-0123456789abcdefgh';
    await redis.client.set(
      legacyPrefix + legacyId,
      JSON.stringify({
        cookie: { expires: new Date(Date.now() - 1000).toISOString(), path: '/' },
        passport: { user: 'zoe-expired' },
      }),
      'EX',
      600,
    );
    expect(await importer().resolve(signed(legacyId))).toEqual({
      gone: true,
      clearCookie: expect.stringMatching(/^connect\.sid=; Max-Age=0/),
    });
    expect(await redis.client.exists(ourPrefix + deriveSessionId(legacyId, OUR_SECRET))).toBe(0);
    expect(logs).toHaveLength(1);
    expect(logs[0][1]).toMatch(/expired or empty/);
    expect(logs[0][1]).not.toContain(legacyId);
    expect(logs[0][1]).not.toContain('zoe-expired');
  });

  it('gives null for a missing key, then costs no round trip for that cookie', async () => {
    const cookie = signed('missingSession-0123456789abcdefgh');
    const same = importer();
    // load (miss) · GET + PTTL · load again (a racing request may have just moved it).
    expect(await commands(() => same.adopt(cookie))).toEqual(['script', 'get', 'pttl', 'script']);
    expect(await commands(() => same.adopt(cookie))).toEqual([]);
    expect(logs.map(([, m]) => m)).toEqual([expect.stringMatching(/gone or expired/)]);
  });

  it('gives null for corrupt data (not JSON, not an object, another Redis type), quoting none of it', async () => {
    const cases: [string, () => Promise<unknown>][] = [
      [
        'notJson-0123456789abcdefghijklmnop',
        () =>
          redis.client.set(
            legacyPrefix + 'notJson-0123456789abcdefghijklmnop',
            '{"passport":{"user":"secret-alice"',
          ),
      ],
      [
        'array-0123456789abcdefghijklmnopqr',
        () =>
          redis.client.set(legacyPrefix + 'array-0123456789abcdefghijklmnopqr', '["secret-alice"]'),
      ],
      [
        'hash-0123456789abcdefghijklmnopqrs',
        () =>
          redis.client.hset(
            legacyPrefix + 'hash-0123456789abcdefghijklmnopqrs',
            'user',
            'secret-alice',
          ),
      ],
    ];
    for (const [legacyId, write] of cases) {
      await write();
      logs = [];
      expect(await importer().adopt(signed(legacyId))).toBeNull();
      expect(logs).toHaveLength(1);
      expect(logs[0][0]).toBe('warn');
      expect(logs[0][1]).not.toContain(legacyId);
      expect(logs[0][1]).not.toContain('secret-alice');
      // Data we cannot read is never deleted: someone may want to look at it.
      expect(await redis.client.exists(legacyPrefix + legacyId)).toBe(1);
    }
  });

  it('gives null for a session holding nothing but its cookie (saveUninitialized)', async () => {
    const legacyId = 'emptySession-0123456789abcdefghij';
    await redis.client.set(legacyPrefix + legacyId, '{"cookie":{"path":"/"}}', 'EX', 600);
    expect(await importer().adopt(signed(legacyId))).toBeNull();
    expect(await redis.client.exists(ourPrefix + deriveSessionId(legacyId, OUR_SECRET))).toBe(0);
  });
});

describe('Redis not answering', () => {
  it('rejects, so the request path answers 503, instead of passing for "no session"', async () => {
    const down = new Redis({
      port: await freePort(),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    down.on('error', () => undefined);
    const offline = new LegacySessionImporter(
      { cookieName: 'connect.sid', secrets: [LEGACY_SECRET], prefix: legacyPrefix },
      down,
      new RedisSessionStore(down, ourPrefix),
      OUR_SECRET,
      TIMEOUT_MS,
      log,
    );
    const cookie = `connect.sid=${encodeURIComponent(`s:${cookieSignature.sign('x'.repeat(32), LEGACY_SECRET)}`)}`;
    await expect(offline.adopt(cookie)).rejects.toThrow();
    expect(logs).toEqual([]);
    down.disconnect();
  });
});
