import { jest } from '@jest/globals';
import { SessionService } from '../src/index.js';
import { ADAPTERS, cookieOf, idOf } from './utils/app.js';
import { readsProcessed, startRedis, type RedisHandle } from './utils/redis-server.js';
import { sessionBed, type SessionBed } from './utils/sessions.js';

/**
 * The commands sent in one turn of the event loop leave in one write: Redis sees one burst, not
 * one per command, and every command is still answered on its own.
 */
describe.each(ADAPTERS)('writes to Redis batched per event-loop turn on %s', (adapter) => {
  let redis: RedisHandle;
  let bed: SessionBed;

  beforeAll(async () => {
    // A Redis of its own: its read counter must move only for this app and this spec.
    redis = await startRedis({ own: true });
    bed = await sessionBed(adapter, {}, { redis });
  });

  afterAll(async () => {
    await bed?.close();
    await redis?.stop();
  });

  it('sends twenty commands of one turn in one burst, each answered', async () => {
    const live = idOf(cookieOf(await bed.http().get('/write')));
    const sessions = bed.app.get(SessionService);
    const ids = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? live : `${'n'.repeat(42)}${i}`,
    );
    const before = await readsProcessed(redis.client);
    const answers = await Promise.all(ids.map((id) => sessions.exists(id)));
    const after = await readsProcessed(redis.client);
    expect(answers).toEqual(ids.map((id) => id === live));
    // The batch and the INFO that reads the counter again; never one per command.
    expect(after - before).toBeLessThanOrEqual(3);
  });

  it('still sends when the test has faked setImmediate (the batch never waits on a fake timer)', async () => {
    const cookie = cookieOf(await bed.http().get('/write'));
    jest.useFakeTimers({
      doNotFake: ['nextTick', 'queueMicrotask', 'setInterval', 'clearInterval'],
    });
    try {
      expect(await bed.app.get(SessionService).exists(idOf(cookie))).toBe(true);
      await bed.http().get('/read').set('Cookie', cookie).expect(200);
    } finally {
      jest.useRealTimers();
    }
  });
});
