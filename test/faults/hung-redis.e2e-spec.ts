import { Controller, Get, type INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  REDIS_SESSION_CLIENT,
  RedisSessionModule,
  Session,
  SessionService,
  SessionStoreUnavailableException,
  type SessionData,
} from '../../src/index.js';
import { Latches } from '../app/latches.js';
import { SessionTestController } from '../app/session-test.controller.js';
import { ADAPTERS, SECRET, cookieOf, createApp, idOf, request } from '../utils/app.js';
import { spawnRedis, startRedis, stopProcess, type RedisHandle } from '../utils/redis-server.js';
import { sessionBed, type SessionBed } from '../utils/sessions.js';
import { listen, timed, whenReady } from '../utils/redis-topology.js';
import { budgetMs, UNAVAILABLE } from '../utils/outage.js';

/**
 * Case 41 (and the latency half of 40): a hung Redis (SIGSTOP) bounds every session request by
 * socket_timeout, leaves session-free routes alone, and nothing that timed out is replayed later
 * (ioredis#2130).
 */

const SOCKET_TIMEOUT_S = 0.5;
const BUDGET_MS = budgetMs(SOCKET_TIMEOUT_S);
/** Anything that would be Redis or ioredis speaking to the client. */
const REDIS_TEXT = /redis|timed? ?out|ECONN|READONLY|OOM|stream|command|EVALSHA|NOSCRIPT/i;

@Controller('gated')
class GatedController {
  constructor(
    private readonly sessions: SessionService,
    private readonly latches: Latches,
  ) {}

  @Get('invalidate')
  async invalidate(@Session() session: SessionData) {
    await this.latches.wait('invalidate');
    this.sessions.invalidate(session);
    return { ok: true };
  }

  @Get('write')
  async write(@Session() session: SessionData) {
    await this.latches.wait('write');
    session.counter = 99;
    session.stale = 'yes';
    return { ok: true };
  }
}

describe.each(ADAPTERS)('hung Redis (SIGSTOP) on %s', (adapter) => {
  let redis: RedisHandle;
  let bed: SessionBed;
  let base: string;
  let latches: Latches;
  let paused = false;
  const http = () => request(base);

  const pause = () => {
    redis.process!.kill('SIGSTOP');
    paused = true;
  };
  const resume = () => {
    redis.process!.kill('SIGCONT');
    paused = false;
  };
  const key = (id: string) => redis.prefix + id;

  beforeAll(async () => {
    redis = await startRedis({ own: true });
    bed = await sessionBed(
      adapter,
      { redis: { socketTimeout: SOCKET_TIMEOUT_S } },
      { redis, metadata: { controllers: [GatedController] } },
    );
    base = await listen(bed.app);
    latches = bed.latches;
  });

  afterEach(() => {
    if (paused) resume();
  });

  afterAll(async () => {
    if (paused) resume();
    await bed?.close();
    await redis?.stop();
  });

  it('answers 503 within the budget for session routes and 200 for /none while Redis is hung', async () => {
    const cookie = cookieOf(await http().get('/write').expect(200, { counter: 1 }));
    pause();
    const read = await timed(() => http().get('/read').set('Cookie', cookie).timeout(10_000));
    const write = await timed(() => http().get('/write').set('Cookie', cookie).timeout(10_000));
    const fresh = await timed(() => http().get('/write').timeout(10_000));
    const none = await timed(() => http().get('/none').timeout(10_000));
    console.log(
      `[${adapter}] hung Redis (socket_timeout ${SOCKET_TIMEOUT_S * 1000} ms): /read ${read.ms.toFixed(0)} ms, ` +
        `/write ${write.ms.toFixed(0)} ms, /write (no cookie, create) ${fresh.ms.toFixed(0)} ms, /none ${none.ms.toFixed(0)} ms`,
    );
    for (const { ms, value } of [read, write, fresh]) {
      expect(value.status).toBe(503);
      expect(value.body).toEqual(UNAVAILABLE);
      expect(value.text).not.toMatch(REDIS_TEXT);
      expect(value.headers['set-cookie']).toBeUndefined();
      expect(ms).toBeLessThan(BUDGET_MS);
    }
    expect(none.value.status).toBe(200);
    expect(none.value.body).toEqual({ ok: true });
    expect(none.ms).toBeLessThan(BUDGET_MS);

    resume();
    // Service resumes by itself on the same connection: the session is intact and writable.
    await http().get('/read').set('Cookie', cookie).expect(200, { counter: 1 });
    await http().get('/write').set('Cookie', cookie).expect(200, { counter: 2 });
  });

  it('administration by id answers SessionStoreUnavailableException while Redis is hung, not a raw timeout', async () => {
    const sessions = bed.app.get(SessionService);
    await http().get('/write').expect(200);
    pause();
    const iterate = async () => {
      for await (const id of sessions.ids()) expect(typeof id).toBe('string');
    };
    await expect(iterate()).rejects.toBeInstanceOf(SessionStoreUnavailableException);
    await expect(sessions.exists('x'.repeat(43))).rejects.toBeInstanceOf(
      SessionStoreUnavailableException,
    );
    resume();
    const ids: string[] = [];
    for await (const id of sessions.ids()) ids.push(id);
    expect(ids.length).toBeGreaterThan(0);
  });

  it('does not apply a logout or a stale write that timed out at load (session unchanged after SIGCONT)', async () => {
    const cookie = cookieOf(await http().get('/write').expect(200, { counter: 1 }));
    const id = idOf(cookie);
    pause();
    const logout = await timed(() =>
      http().get('/invalidate').set('Cookie', cookie).timeout(10_000),
    );
    const stale = await timed(() =>
      http().get('/set/counter/99').set('Cookie', cookie).timeout(10_000),
    );
    expect(logout.value.status).toBe(503);
    expect(stale.value.status).toBe(503);
    expect(logout.ms).toBeLessThan(BUDGET_MS);
    expect(stale.ms).toBeLessThan(BUDGET_MS);
    // The 503 logout left the cookie alone: the client was told it failed.
    expect(logout.value.headers['set-cookie']).toBeUndefined();
    resume();
    // A round trip through the app's own connection: anything still queued there has run by now.
    await (bed.app.get(REDIS_SESSION_CLIENT) as Redis).ping();
    const fields = await redis.client.hgetall(key(id));
    expect(fields.counter).toBe('1');
    await http().get('/read').set('Cookie', cookie).expect(200, { counter: 1 });
  });

  it('a logout and a stale write that timed out at commit never resurrect the session after SIGCONT', async () => {
    const cookie = cookieOf(await http().get('/write').expect(200, { counter: 1 }));
    const id = idOf(cookie);
    // Both requests load the session while Redis is up, then wait in their handlers.
    const logoutDone = timed(() =>
      http().get('/gated/invalidate').set('Cookie', cookie).timeout(10_000),
    );
    const staleDone = timed(() => http().get('/gated/write').set('Cookie', cookie).timeout(10_000));
    await Promise.all([latches.reached('invalidate'), latches.reached('write')]);
    pause();
    // Logout commits first (DEL), then the stale write (update-if-exists): both hit a hung Redis.
    const logout = await timed(() => (latches.open('invalidate'), logoutDone));
    const stale = await timed(() => (latches.open('write'), staleDone));
    console.log(
      `[${adapter}] commit during hang: logout answered ${logout.value.value.status} ${logout.ms.toFixed(0)} ms after release, ` +
        `stale write ${stale.value.value.status} ${stale.ms.toFixed(0)} ms after release`,
    );
    expect(logout.ms).toBeLessThan(BUDGET_MS);
    expect(stale.ms).toBeLessThan(BUDGET_MS);
    expect(logout.value.value.status).toBe(503);
    expect(stale.value.value.status).toBe(503);
    expect(stale.value.value.headers['set-cookie']).toBeUndefined();
    resume();
    await (bed.app.get(REDIS_SESSION_CLIENT) as Redis).ping();
    // The DEL was already on the wire and ran on SIGCONT; the stale write that ran after it found
    // no key and created nothing: the session stays dead.
    expect(await redis.client.exists(key(id))).toBe(0);
    const after = await http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
    expect(after.headers['set-cookie']).toBeUndefined();
  });
});

/**
 * ioredis#2130: with default options, commands still unanswered when the connection drops are
 * re-sent after reconnect (autoResendUnfulfilledCommands), and ones sent while offline wait in the
 * offline queue: a request that already answered 503 would change data seconds later. Here the
 * hung Redis is replaced by another one holding the same data (as after a failover): nothing the
 * timed-out requests sent may arrive there.
 */
describe('no replay of timed-out commands after reconnect (ioredis#2130)', () => {
  let port: number;
  let child: Awaited<ReturnType<typeof spawnRedis>>['process'];
  let app: INestApplication;
  let base: string;
  let latches: Latches;
  const prefix = 'replay:';
  const dir = mkdtempSync(join(tmpdir(), 'redis-replay-'));

  beforeAll(async () => {
    ({ process: child, port } = await spawnRedis(['--dir', dir]));
    app = await createApp('express', {
      imports: [
        RedisSessionModule.forRoot({
          secret: SECRET,
          prefix,
          redis: { host: '127.0.0.1', port, socketTimeout: SOCKET_TIMEOUT_S },
        }),
      ],
      controllers: [SessionTestController, GatedController],
      providers: [Latches],
    });
    base = await listen(app);
    latches = app.get(Latches);
  });

  afterAll(async () => {
    await app?.close();
    await stopProcess(child);
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves the replacement server untouched by the logout and the stale write that timed out', async () => {
    const cookie = cookieOf(await request(base).get('/write').expect(200, { counter: 1 }));
    const id = idOf(cookie);
    let seed: Redis | undefined;
    const probe = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 3,
    });
    try {
      await probe.connect();
      const snapshot = await probe.hgetall(prefix + id);
      // The replacement server starts from this dump, so it holds the session before any client
      // can reach it (as a promoted replica would).
      await probe.save();
      // Disconnect now: ending a socket to a stopped server leaves a 2 s destroy timer behind.
      probe.disconnect();
      const staleDone = timed(() =>
        request(base).get('/gated/write').set('Cookie', cookie).timeout(10_000),
      );
      const logoutDone = timed(() =>
        request(base).get('/gated/invalidate').set('Cookie', cookie).timeout(10_000),
      );
      await Promise.all([latches.reached('invalidate'), latches.reached('write')]);
      child.kill('SIGSTOP');
      const released = performance.now();
      latches.open('write');
      latches.open('invalidate');
      const [stale, logout] = await Promise.all([staleDone, logoutDone]);
      expect(stale.value.status).toBe(503);
      expect(logout.value.status).toBe(503);
      expect(performance.now() - released).toBeLessThan(BUDGET_MS);

      // The hung server dies with the commands unread in its socket; a new one takes the port
      // with the session as it was before the requests (what a promoted replica would hold).
      const appClient = app.get(REDIS_SESSION_CLIENT) as Redis;
      const closed = new Promise<void>((resolve) => appClient.once('close', () => resolve()));
      await stopProcess(child);
      await closed;
      ({ process: child } = await spawnRedis(['--dir', dir], port));
      await whenReady(appClient);
      // Anything re-sent on reconnect goes before this PING on the same connection.
      await appClient.ping();
      seed = new Redis({ host: '127.0.0.1', port });
      expect(await seed.hgetall(prefix + id)).toEqual(snapshot);
      await request(base).get('/read').set('Cookie', cookie).expect(200, { counter: 1 });
    } finally {
      if (probe.status !== 'end') probe.disconnect();
      seed?.disconnect();
    }
  });
});
