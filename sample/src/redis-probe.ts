import { Redis, type RedisOptions } from 'ioredis';
import type { SessionRedisOptions } from 'nestjs-redis-sessions';

/** How the sample names the Redis it uses, without a password. */
export function describeRedis(redis: SessionRedisOptions = {}): string {
  if (redis.clusterNodes)
    return `Redis Cluster ${redis.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (redis.sentinels)
    return `Redis Sentinel ${redis.sentinels.map((n) => `${n.host}:${n.port}`).join(',')} (${redis.sentinelName})`;
  if (redis.unixSocketPath) return `Redis at unix:${redis.unixSocketPath}`;
  if (redis.url && redis.host === undefined && redis.port === undefined) {
    const url = new URL(redis.url);
    if (url.password) url.password = '***';
    return `Redis at ${url.toString().replace(/\/$/, '')}`;
  }
  return `Redis at ${redis.host ?? 'localhost'}:${redis.port ?? 6379}`;
}

/**
 * Whether a Redis answers PING with these connection options within a second, and if not, why.
 * The sample asks before it boots so it can say plainly that it falls back to memory, instead of
 * answering 503 to every session route. Sentinel and Cluster setups are not probed.
 */
export async function probeRedis(
  redis: SessionRedisOptions = {},
): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (redis.sentinels || redis.clusterNodes) return { ok: true };
  const options: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...(redis.host !== undefined && { host: redis.host }),
    ...(redis.port !== undefined && { port: redis.port }),
    ...(redis.db !== undefined && { db: redis.db }),
    ...(redis.username !== undefined && { username: redis.username }),
    ...(redis.password !== undefined && { password: redis.password }),
    ...(redis.unixSocketPath !== undefined && { path: redis.unixSocketPath }),
    ...(redis.tls && { tls: {} }),
  };
  const client = redis.url ? new Redis(redis.url, options) : new Redis(options);
  let lastError: Error | undefined;
  client.on('error', (error: Error) => (lastError = error));
  const timer = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error('no answer within 1 s')), 1000).unref();
  });
  try {
    await Promise.race([client.connect().then(() => client.ping()), timer]);
    return { ok: true };
  } catch (error) {
    // ioredis rejects with "Connection is closed."; the socket's error says why.
    return { ok: false, reason: (lastError ?? (error as Error)).message };
  } finally {
    client.disconnect();
  }
}
