import type { INestApplication } from '@nestjs/common';
import { AppModule } from '../sample/src/app.module.js';
import { ADAPTERS, SECRET, cookieOf, createApp, request } from './utils/app.js';
import { startRedis, type RedisHandle } from './utils/redis-server.js';

/** The sample app does what its README says, on Redis and on the in-memory fallback. */
describe.each(ADAPTERS)('the sample app on %s', (adapter) => {
  describe.each([false, true])('memory store: %s', (useMemoryStore) => {
    let redis: RedisHandle | undefined;
    let app: INestApplication;

    beforeAll(async () => {
      redis = useMemoryStore ? undefined : await startRedis();
      const redisUrl = redis?.url ?? 'redis://127.0.0.1:1';
      app = await createApp(adapter, {
        imports: [AppModule.register({ redisUrl, useMemoryStore, secret: SECRET })],
      });
    });

    afterAll(async () => {
      await app?.close();
      await redis?.stop();
    });

    it('counts, logs in with a new id, protects the profile with CSRF, flashes once and logs out', async () => {
      const http = () => request(app.getHttpServer());
      const first = await http().get('/counter').expect(200, { visits: 1 });
      let cookie = cookieOf(first);
      await http().get('/counter').set('Cookie', cookie).expect(200, { visits: 2 });
      const login = await http()
        .post('/login')
        .set('Cookie', cookie)
        .send({ name: 'jane' })
        .expect(200);
      const loggedIn = cookieOf(login);
      expect(loggedIn).not.toBe(cookie);
      await http().get('/profile').set('Cookie', cookie).expect(401);
      cookie = loggedIn;
      await http()
        .get('/profile')
        .set('Cookie', cookie)
        .expect(200)
        .expect((res) => expect(res.body).toMatchObject({ name: 'jane', visits: 2 }));
      const { token } = (await http().get('/csrf').set('Cookie', cookie).expect(200)).body;
      await http().post('/profile').set('Cookie', cookie).send({ bio: 'x' }).expect(403);
      await http()
        .post('/profile')
        .set('Cookie', cookie)
        .set('X-CSRF-Token', token)
        .send({ bio: 'hi' })
        .expect(200);
      const home = await http().get('/').set('Cookie', cookie).expect(200);
      expect(home.body.messages).toEqual(['Welcome, jane']);
      expect((await http().get('/').set('Cookie', cookie).expect(200)).body.messages).toEqual([]);
      await http().post('/logout').set('Cookie', cookie).expect(200);
      await http().get('/profile').set('Cookie', cookie).expect(401);
    });
  });
});
