import { Redis } from 'ioredis';

/**
 * Whether a Redis answers PING at `url` within a second. The sample asks before it boots so it can
 * say plainly that it falls back to memory, instead of answering 503 to every session route.
 */
export async function redisReachable(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
