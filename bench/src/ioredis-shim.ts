import type { Redis } from 'ioredis';

/**
 * connect-redis 10 calls the node-redis API (`set(k, v, { expiration })`, `del([k])`, `mGet`,
 * `scanIterator`); handed a plain ioredis client, its SET fails with `ERR syntax error` and the
 * session silently never persists (BENCH-PEERS.md, observation 7). One command in, one command out,
 * so the peers' round-trip counts are not distorted.
 */
export function ioredisForConnectRedis(redis: Redis) {
  return {
    get: (key: string) => redis.get(key),
    set: (key: string, value: string, options?: { expiration?: { type: string; value: number } }) =>
      options?.expiration
        ? redis.set(key, value, options.expiration.type as 'EX', options.expiration.value)
        : redis.set(key, value),
    expire: (key: string, seconds: number) => redis.expire(key, seconds),
    del: (keys: string | string[]) => redis.del(...([] as string[]).concat(keys)),
    mGet: (keys: string[]) => redis.mget(keys),
    async *scanIterator({ MATCH, COUNT }: { MATCH: string; COUNT: number }) {
      for await (const keys of redis.scanStream({ match: MATCH, count: COUNT })) yield keys as string[];
    },
  };
}
