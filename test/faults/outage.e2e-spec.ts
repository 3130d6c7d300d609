import type { ChildProcess } from 'node:child_process';
import type { INestApplication } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { REDIS_SESSION_CLIENT, RedisSessionModule } from '../../src/index.js';
import { SessionTestController } from '../app/session-test.controller.js';
import { ADAPTERS, SECRET, cookieOf, createApp, idOf, request } from '../utils/app.js';
import { freePort, spawnRedis, stopProcess } from '../utils/redis-server.js';
import { listen, timed, whenReady } from '../utils/redis-topology.js';
import { budgetMs, UNAVAILABLE } from '../utils/outage.js';

/**
 * Cases 40 and 42: Redis killed (ECONNREFUSED) and restarted on the same port without
 * persistence, and an application that boots while Redis is absent.
 */

const SOCKET_TIMEOUT_S = 0.5;
const BUDGET_MS = budgetMs(SOCKET_TIMEOUT_S);

/** Resolves on the client's next 'close' (the connection to the killed server is gone). */
const closed = (client: Redis) =>
  new Promise<void>((resolve) => client.once('close', () => resolve()));

describe.each(ADAPTERS)('Redis outage on %s', (adapter) => {
  const children: ChildProcess[] = [];
  const apps: INestApplication[] = [];

  afterAll(async () => {
    for (const app of apps) await app.close();
    await Promise.all(children.map((child) => stopProcess(child)));
  });

  const boot = async (port: number) => {
    const app = await createApp(adapter, {
      imports: [
        RedisSessionModule.forRoot({
          secret: SECRET,
          redis: { host: '127.0.0.1', port, socketTimeout: SOCKET_TIMEOUT_S },
        }),
      ],
      controllers: [SessionTestController],
    });
    apps.push(app);
    return { app, base: await listen(app), client: app.get(REDIS_SESSION_CLIENT) as Redis };
  };

  it('answers 503 fast while Redis is down, 200 for /none, and recovers by itself after a restart', async () => {
    const first = await spawnRedis();
    children.push(first.process);
    const { base, client } = await boot(first.port);
    const http = () => request(base);
    const cookie = cookieOf(await http().get('/write').expect(200, { counter: 1 }));

    const gone = closed(client);
    await stopProcess(first.process);
    await gone;
    const read = await timed(() => http().get('/read').set('Cookie', cookie).timeout(10_000));
    const create = await timed(() => http().get('/write').timeout(10_000));
    const none = await timed(() => http().get('/none').timeout(10_000));
    console.log(
      `[${adapter}] Redis down (ECONNREFUSED): /read ${read.value.status} in ${read.ms.toFixed(0)} ms, ` +
        `/write ${create.value.status} in ${create.ms.toFixed(0)} ms, /none ${none.value.status} in ${none.ms.toFixed(0)} ms`,
    );
    for (const { ms, value } of [read, create]) {
      expect(value.status).toBe(503);
      expect(value.body).toEqual(UNAVAILABLE);
      expect(value.headers['set-cookie']).toBeUndefined();
      expect(ms).toBeLessThan(BUDGET_MS);
    }
    expect(none.value.status).toBe(200);

    // Same port, empty data set (no persistence): the old cookie names nothing any more.
    const restarted = performance.now();
    const second = await spawnRedis([], first.port);
    children.push(second.process);
    await whenReady(client);
    console.log(
      `[${adapter}] client ready ${(performance.now() - restarted).toFixed(0)} ms after the restart began`,
    );
    const fresh = await http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
    expect(fresh.headers['set-cookie']).toBeUndefined();
    const rewritten = await http().get('/write').set('Cookie', cookie).expect(200, { counter: 1 });
    expect(idOf(cookieOf(rewritten))).not.toBe(idOf(cookie));
  });

  it('boots with Redis absent and serves sessions once redis-server starts on that port', async () => {
    const port = await freePort();
    const started = performance.now();
    const { base, client } = await boot(port);
    const bootMs = performance.now() - started;
    console.log(`[${adapter}] boot with Redis absent took ${bootMs.toFixed(0)} ms`);
    expect(bootMs).toBeLessThan(BUDGET_MS + 2000);
    const http = () => request(base);
    await http().get('/none').expect(200);
    const early = await timed(() => http().get('/write').timeout(10_000));
    expect(early.value.status).toBe(503);
    expect(early.ms).toBeLessThan(BUDGET_MS);

    const late = await spawnRedis([], port);
    children.push(late.process);
    await whenReady(client);
    const res = await http().get('/write').expect(200, { counter: 1 });
    await http().get('/write').set('Cookie', cookieOf(res)).expect(200, { counter: 2 });
  });
});
