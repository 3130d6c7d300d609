import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import request from 'supertest';
import { AppModule } from './app.module';

describe('sessions in a NestJS 11 CommonJS app', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication();
    app.useWebSocketAdapter(new WsAdapter(app));
    await app.listen(0, '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
  });

  it('loads the CommonJS build through require', () => {
    // jest resolves with the `require` condition; landing anywhere else would mean the
    // exports map sends CommonJS users to the ESM build.
    expect(require.resolve('nestjs-redis-sessions')).toMatch(/[\\/]dist[\\/]cjs[\\/]index\.js$/);
    expect(typeof require('nestjs-redis-sessions').RedisSessionModule).toBe('function');
  });

  it('keeps a value across two requests through the session cookie', async () => {
    const login = await request(app.getHttpServer()).get('/login').expect(200);
    const setCookie = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^session=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+;/);
    const cookie = setCookie[0].split(';')[0];

    const me = await request(app.getHttpServer()).get('/me').set('Cookie', cookie).expect(200);
    expect(me.body).toEqual({ userId: 1, isNew: false });
    expect(me.headers['set-cookie']).toBeUndefined();
    // The outer check reads this line to find the session in its Redis.
    console.log(`ROUND_TRIP ${JSON.stringify({ id: login.body.id, userId: me.body.userId })}`);
  });

  it('saves what a ws gateway message writes: Nest 11 runs no global interceptor on gateways', async () => {
    const login = await request(app.getHttpServer()).get('/login').expect(200);
    const cookie = ([] as string[]).concat(login.headers['set-cookie'] ?? [])[0].split(';')[0];
    const { port } = app.getHttpServer().address() as AddressInfo;
    const socket = new WebSocket(`ws://127.0.0.1:${port}`, { headers: { cookie } });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const send = () =>
      new Promise<unknown>((resolve) => {
        socket.once('message', (data) => resolve(JSON.parse(String(data))));
        socket.send(JSON.stringify({ event: 'count' }));
      });
    try {
      // Each message reads the session afresh: the second sees the first one's write.
      expect(await send()).toEqual({ event: 'count', data: { count: 1, userId: 1 } });
      expect(await send()).toEqual({ event: 'count', data: { count: 2, userId: 1 } });
    } finally {
      socket.close();
    }
    // Saved in Redis, not only in memory: a later HTTP request reads it.
    const after = await request(app.getHttpServer())
      .get('/count')
      .set('Cookie', cookie)
      .expect(200);
    expect(after.body).toEqual({ count: 2 });
  });
});

describe('sessions in a NestJS 11 app on Fastify', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter());
    app.useWebSocketAdapter(new WsAdapter(app));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterAll(async () => {
    await app?.close();
  });

  it('a @Redirect() that writes the session saves it before the redirect, and the app stays up', async () => {
    // Nest 11 resolves the handler before the reply is out; Fastify used to send it twice
    // while the commit waited on Redis (ERR_HTTP_HEADERS_SENT, and the process died).
    const res = await request(app.getHttpServer()).get('/redirect-login').expect(303);
    expect(res.headers.location).toBe('/me');
    const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? [])[0].split(';')[0];
    const me = await request(app.getHttpServer()).get('/me').set('Cookie', cookie).expect(200);
    expect(me.body).toEqual({ userId: 2, isNew: false });
  });
});
