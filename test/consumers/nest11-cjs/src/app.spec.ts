import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from './app.module';

describe('sessions in a NestJS 11 CommonJS app', () => {
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
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
});
