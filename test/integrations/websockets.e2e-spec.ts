import type { INestApplication } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { WsAdapter } from '@nestjs/platform-ws';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { Latches } from '../app/latches.js';
import { SessionTestGateway } from '../app/session-test.gateway.js';
import { SessionTestController } from '../app/session-test.controller.js';
import { RedisSessionStore } from '../../src/index.js';
import { ADAPTERS, cookieOf, idOf, request, setCookies, signedCookie } from '../utils/app.js';
import { capturedLogs } from '../utils/quiet-logs.js';
import { scanAll, startRedis, type RedisHandle } from '../utils/redis-server.js';
import { integrationApp, roundTripCounter, userFields } from './harness.js';

const TRANSPORTS = ['socket.io', 'ws'] as const;
type Transport = (typeof TRANSPORTS)[number];

/** What every gateway handler answers: the session as that message saw it. */
interface MessageView {
  id: string;
  isNew: boolean;
  data: Record<string, unknown>;
}

/** One connected client of the gateway. */
interface TestClient {
  /** Sends a message and resolves with the gateway's answer to it. */
  ask<T = MessageView>(event: string, data?: unknown): Promise<T>;
  /** Sends a message without waiting. */
  emit(event: string, data?: unknown): void;
  /** The next `count` answers to `event`. */
  answers<T = MessageView>(event: string, count: number): Promise<T[]>;
  close(): Promise<void>;
}

/** Collects `count` answers from an `on(handler)` / `off(handler)` pair. */
function collect<T>(
  count: number,
  on: (handler: (answer: T) => void) => void,
  off: (handler: (answer: T) => void) => void,
): Promise<T[]> {
  return new Promise((resolve) => {
    const seen: T[] = [];
    const handler = (answer: T) => {
      seen.push(answer);
      if (seen.length < count) return;
      off(handler);
      resolve(seen);
    };
    on(handler);
  });
}

async function connectSocketIo(base: string, cookie?: string): Promise<TestClient> {
  const socket: Socket = io(base, {
    path: '/ws',
    transports: ['websocket'],
    extraHeaders: cookie ? { cookie } : {},
    reconnection: false,
    forceNew: true,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const client: TestClient = {
    emit: (event, data = {}) => void socket.emit(event, data),
    answers: <T>(event: string, count: number) =>
      collect<T>(
        count,
        (handler) => socket.on(event, handler),
        (handler) => socket.off(event, handler),
      ),
    ask: async <T>(event: string, data?: unknown) => {
      const answer = client.answers<T>(event, 1);
      client.emit(event, data);
      return (await answer)[0];
    },
    close: async () => {
      socket.disconnect();
    },
  };
  return client;
}

async function connectWs(base: string, cookie?: string): Promise<TestClient> {
  const socket = new WebSocket(`${base.replace('http', 'ws')}/ws`, {
    headers: cookie ? { cookie } : {},
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  // ws answers are `{ event, data }` frames on one stream: route them by event.
  const listeners = new Map<(answer: never) => void, string>();
  socket.on('message', (raw: Buffer) => {
    const { event, data } = JSON.parse(raw.toString()) as { event: string; data: never };
    for (const [handler, wanted] of [...listeners]) if (wanted === event) handler(data);
  });
  const client: TestClient = {
    emit: (event, data = {}) => socket.send(JSON.stringify({ event, data })),
    answers: <T>(event: string, count: number) =>
      collect<T>(
        count,
        (handler) => listeners.set(handler, event),
        (handler) => listeners.delete(handler),
      ),
    ask: async <T>(event: string, data?: unknown) => {
      const answer = client.answers<T>(event, 1);
      client.emit(event, data);
      return (await answer)[0];
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.once('close', () => resolve());
        socket.close();
      }),
  };
  return client;
}

describe.each(ADAPTERS)('sessions in WebSocket gateways on %s', (adapter) => {
  describe.each(TRANSPORTS)('over %s', (transport: Transport) => {
    let redis: RedisHandle;
    let app: INestApplication;
    let base: string;
    let counter: Awaited<ReturnType<typeof roundTripCounter>>;
    let latches: Latches;
    const clients: TestClient[] = [];

    beforeAll(async () => {
      // A Redis of its own: MONITOR must see only this app's commands.
      redis = await startRedis({ own: true });
      app = await integrationApp(
        adapter,
        redis,
        { controllers: [SessionTestController], providers: [SessionTestGateway, Latches] },
        (created) =>
          created.useWebSocketAdapter(
            transport === 'ws' ? new WsAdapter(created) : new IoAdapter(created),
          ),
      );
      await app.listen(0, '127.0.0.1');
      const { port } = app.getHttpServer().address() as { port: number };
      base = `http://127.0.0.1:${port}`;
      counter = await roundTripCounter(redis);
      latches = app.get(Latches);
    });

    afterAll(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await counter?.close();
      await app?.close();
      await redis?.stop();
    });

    async function connect(cookie?: string): Promise<TestClient> {
      const client = await (transport === 'ws' ? connectWs : connectSocketIo)(base, cookie);
      clients.push(client);
      return client;
    }

    const http = () => request(app.getHttpServer());
    const keys = () => scanAll(redis.client, `${redis.prefix}*`);

    /** Logs in over HTTP: a session holding `user`, and its cookie. */
    async function login(user: string): Promise<string> {
      return cookieOf(await http().get(`/set/user/${user}`).expect(200));
    }

    it('reads a session created over HTTP, from the handshake cookie: one round trip', async () => {
      const cookie = await login('alice');
      const client = await connect(cookie);
      let view!: MessageView;
      const { trips } = await counter.during(async () => {
        view = await client.ask('read');
      });
      expect(view).toEqual({ id: idOf(cookie), isNew: false, data: { user: 'alice' } });
      expect(trips).toEqual(['load']);
      expect(await client.ask('read-key')).toEqual({ user: 'alice' });
    });

    it('is fresh per message: an HTTP write between two messages is seen by the second', async () => {
      const cookie = await login('alice');
      const client = await connect(cookie);
      expect((await client.ask('read')).data).toEqual({ user: 'alice' });
      await http().get('/write').set('Cookie', cookie).expect(200, { counter: 1 });
      expect((await client.ask('read')).data).toEqual({ user: 'alice', counter: 1 });
      await http().get('/set/user/bob').set('Cookie', cookie).expect(200);
      expect((await client.ask('read')).data).toEqual({ user: 'bob', counter: 1 });
    });

    it('sees an HTTP logout: the next message reads an empty session', async () => {
      const cookie = await login('alice');
      const client = await connect(cookie);
      expect((await client.ask('read')).data).toEqual({ user: 'alice' });
      const logout = await http().get('/invalidate').set('Cookie', cookie).expect(200);
      expect(setCookies(logout)).toHaveLength(1);
      expect(await keys()).not.toContain(redis.prefix + idOf(cookie));
      const after = await client.ask('read');
      expect(after.data).toEqual({});
      expect(after.isNew).toBe(true);
      expect(after.id).not.toBe(idOf(cookie));
    });

    it('saves a write made in a message handler: two round trips, seen by HTTP and in Redis', async () => {
      const cookie = await login('alice');
      const client = await connect(cookie);
      let view!: MessageView;
      const { trips, writes } = await counter.during(async () => {
        view = await client.ask('write');
        // The answer leaves after the commit (see the last test); wait for the write all the same.
        await counter.seen('update');
      });
      expect(view.data).toEqual({ user: 'alice', counter: 1, wrote: 'socket' });
      expect(trips).toEqual(['load', 'update']);
      expect(writes).toEqual([
        ['hset', redis.prefix + idOf(cookie), 'counter', '1', 'wrote', '"socket"'],
      ]);
      expect(await userFields(redis, idOf(cookie))).toEqual({
        user: 'alice',
        counter: 1,
        wrote: 'socket',
      });
      const dump = await http().get('/dump').set('Cookie', cookie).expect(200);
      expect(dump.body.data).toEqual({ user: 'alice', counter: 1, wrote: 'socket' });
      // The next message of the same socket sees the write, and builds on it.
      expect((await client.ask('write')).data.counter).toBe(2);
      const again = await http().get('/dump').set('Cookie', cookie).expect(200);
      expect(again.body.data).toMatchObject({ counter: 2 });
    });

    it('refuses a login in a message handler, which no cookie can follow: it throws, and the id stays', async () => {
      const cookie = await login('alice');
      const client = await connect(cookie);
      const exception = client.answers('exception', 1);
      client.emit('login');
      expect((await exception)[0]).toMatchObject({
        status: 'error',
        message: 'Internal server error',
      });
      expect(capturedLogs()).toContainEqual(
        expect.objectContaining({
          level: 'error',
          message: expect.stringContaining(
            'regenerate() and login() need an HTTP response to carry the new session cookie',
          ),
        }),
      );
      // A planted cookie must never become logged in: the session is as it was.
      expect((await client.ask('read')).data).toEqual({ user: 'alice' });
      expect(await redis.client.hgetall(redis.prefix + idOf(cookie))).not.toHaveProperty('$u');
      expect(await userFields(redis, idOf(cookie))).toEqual({ user: 'alice' });
    });

    it('two @Session() parameters of one handler get the one session of the message', async () => {
      const cookie = await login('alice');
      const client = await connect(cookie);
      const { trips } = await counter.during(async () => {
        expect((await client.ask('both')).data).toEqual({ user: 'alice', copied: 'alice' });
        await counter.seen('update');
      });
      expect(trips).toEqual(['load', 'update']);
      expect(await userFields(redis, idOf(cookie))).toEqual({ user: 'alice', copied: 'alice' });
    });

    it('two messages in flight on one socket each load, and save, their own write', async () => {
      const cookie = await login('alice');
      const client = await connect(cookie);
      const answers = client.answers('write-held', 2);
      const { trips } = await counter.during(async () => {
        client.emit('write-held', { key: 'first', gate: `${transport}-first` });
        client.emit('write-held', { key: 'second', gate: `${transport}-second` });
        await Promise.all([
          latches.reached(`${transport}-first`),
          latches.reached(`${transport}-second`),
        ]);
        latches.open(`${transport}-second`);
        latches.open(`${transport}-first`);
        await answers;
        // The HTTP load queues behind both commits on the app's Redis connection.
        const dump = await http().get('/dump').set('Cookie', cookie).expect(200);
        expect(dump.body.data).toEqual({ user: 'alice', first: true, second: true });
      });
      expect(trips.filter((t) => t === 'update')).toHaveLength(2);
      expect(await userFields(redis, idOf(cookie))).toEqual({
        user: 'alice',
        first: true,
        second: true,
      });
    });

    it('messages with the same arguments in flight at once still save a write each', async () => {
      const cookie = await login('alice');
      const client = await connect(cookie);
      // Only this test sends write-held-same to this app: the messages are its 1st and 2nd.
      const answers = client.answers('write-held-same', 2);
      client.emit('write-held-same', 'same');
      client.emit('write-held-same', 'same');
      await Promise.all([latches.reached('same:1'), latches.reached('same:2')]);
      latches.open('same:1');
      latches.open('same:2');
      const views = await answers;
      // Each message wrote its own session object, loaded for it.
      expect(views.map((v) => Object.keys(v.data).sort())).toEqual(
        expect.arrayContaining([
          ['same1', 'user'],
          ['same2', 'user'],
        ]),
      );
      const dump = await http().get('/dump').set('Cookie', cookie).expect(200);
      expect(dump.body.data).toEqual({ user: 'alice', same1: true, same2: true });
    });

    it("keeps the write of a handler that throws (cookie_on_exception), like HTTP's", async () => {
      const cookie = await login('alice');
      const client = await connect(cookie);
      const { trips } = await counter.during(async () => {
        // socket.io clients hear of the error; Nest's filter has nothing to send it on for ws.
        const exception = transport === 'socket.io' ? client.answers('exception', 1) : undefined;
        client.emit('throw-after-write');
        await counter.seen('update');
        if (exception !== undefined) {
          expect((await exception)[0]).toMatchObject({
            status: 'error',
            message: 'Internal server error',
          });
        }
      });
      expect(trips).toEqual(['load', 'update']);
      expect(await userFields(redis, idOf(cookie))).toEqual({ user: 'alice', thrown: 1 });
    });

    it.each([
      ['no cookie', undefined, []],
      ['a forged cookie', `session=${'x'.repeat(43)}.${'y'.repeat(43)}`, []],
      ['a signed cookie naming no session', signedCookie('Q'.repeat(43)), ['load']],
    ])(
      'a socket with %s never creates a session, even when a message writes',
      async (_what, cookie, expectedTrips) => {
        const before = await keys();
        const client = await connect(cookie);
        let view!: MessageView;
        const { trips } = await counter.during(async () => {
          view = await client.ask('write');
        });
        expect(view.isNew).toBe(true);
        expect(view.data).toEqual({ counter: 1, wrote: 'socket' });
        // No Set-Cookie can reach a socket's client: a new session would be an orphan key.
        expect(trips).toEqual(expectedTrips);
        expect(await keys()).toEqual(before);
        // Nothing was kept for the next message either.
        expect((await client.ask('write')).data).toEqual({ counter: 1, wrote: 'socket' });
        expect(await keys()).toEqual(before);
      },
    );
  });
});

/** A Redis store whose next update waits until the spec lets it go. */
class HeldRedisStore extends RedisSessionStore {
  private hold?: { reached: () => void; released: Promise<void> };

  /** Holds the next update; resolves once it is waiting, with the function that releases it. */
  holdNextUpdate(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    return new Promise((resolve) => {
      this.hold = { reached: () => resolve(release), released };
    });
  }

  override async update(...args: Parameters<RedisSessionStore['update']>): Promise<boolean> {
    const hold = this.hold;
    this.hold = undefined;
    if (hold !== undefined) {
      hold.reached();
      await hold.released;
    }
    return super.update(...args);
  }
}

describe.each(TRANSPORTS)('the answer to a writing message over %s', (transport: Transport) => {
  let redis: RedisHandle;
  let client: Redis;
  let store: HeldRedisStore;
  let app: INestApplication;
  let base: string;
  const sockets: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    store = new HeldRedisStore(client, redis.prefix);
    app = await integrationApp(
      'express',
      redis,
      { controllers: [SessionTestController], providers: [SessionTestGateway, Latches] },
      (created) =>
        created.useWebSocketAdapter(
          transport === 'ws' ? new WsAdapter(created) : new IoAdapter(created),
        ),
      { store },
    );
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await app?.close();
    client?.disconnect();
    await redis?.stop();
  });

  // As HTTP holds its response until the commit, a message's answer waits for its save: the
  // client is never told "done" while the write is still on its way.
  it('leaves only once the session is saved', async () => {
    const cookie = cookieOf(await request(app.getHttpServer()).get('/set/user/alice').expect(200));
    const socket = await (transport === 'ws' ? connectWs : connectSocketIo)(base, cookie);
    sockets.push(socket);
    const held = store.holdNextUpdate();
    let answered = false;
    const answer = socket.ask('write').then(() => (answered = true));
    const release = await held;
    // An answer sent before the commit began is on the wire ahead of this one.
    await socket.ask('ping');
    const answeredBeforeSave = answered;
    release();
    await answer;
    expect(answeredBeforeSave).toBe(false);
    expect(await userFields(redis, idOf(cookie))).toMatchObject({ counter: 1 });
  });
});
