import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { SessionRedisOptions } from '../config/redis-session-module-options.interface.js';

/**
 * Client options that keep a request's wait on Redis bounded and never replay a command that
 * already failed or timed out: no offline queue (a command sent while disconnected fails at once,
 * so it cannot run later, after the request gave up: ioredis#2130), no re-sending of in-flight
 * commands after a reconnect, a per-command timeout, and quick reconnects.
 * @internal
 */
export function boundedClientOptions(socketTimeoutMs: number): RedisOptions {
  return {
    commandTimeout: socketTimeoutMs,
    connectTimeout: Math.max(socketTimeoutMs, 1000),
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    // Off on purpose: ioredis sends an auto-pipeline batch only after the previous one settled, so
    // while Redis hangs a command waits for the batch ahead to time out before its own timer
    // starts, up to 2 x commandTimeout (measured: 2.1 s with socket_timeout 1 s, 1.07 s when off).
    enableAutoPipelining: false,
    retryStrategy: (times) => Math.min(times * 100, 1000),
    // After a failover the old master answers READONLY: reconnect so Sentinel hands us the new one.
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 1 : false),
  };
}

/**
 * Makes the ioredis client described by the settings: Cluster, Sentinel, unix socket, URL or
 * host/port, in that order of precedence.
 * @internal
 */
export function createRedisClient(
  options: SessionRedisOptions = {},
  socketTimeoutMs: number,
): Redis | Cluster {
  const bounded = boundedClientOptions(socketTimeoutMs);
  const common: RedisOptions = {
    ...bounded,
    db: options.db,
    username: options.username,
    password: options.password,
    tls: options.tls ? {} : undefined,
  };
  if (options.clusterNodes) {
    const clusterOptions: ClusterOptions = {
      redisOptions: common,
      enableOfflineQueue: false,
      enableAutoPipelining: false,
      clusterRetryStrategy: (times) => Math.min(times * 100, 1000),
    };
    return new Cluster(options.clusterNodes, clusterOptions);
  }
  if (options.sentinels) {
    // Subscribes to the sentinels' +switch-master: without it the client keeps writing to the old
    // master until Sentinel demotes it (about 10 s), and the resync then discards those writes.
    return new Redis({
      ...common,
      sentinels: options.sentinels,
      name: options.sentinelName,
      failoverDetector: true,
    });
  }
  if (options.unixSocketPath) return new Redis({ ...common, path: options.unixSocketPath });
  const explicit: RedisOptions = { ...common, host: options.host, port: options.port };
  for (const key of Object.keys(explicit) as (keyof RedisOptions)[]) {
    if (explicit[key] === undefined) delete explicit[key];
  }
  return options.url
    ? new Redis(options.url, explicit)
    : new Redis({ host: 'localhost', port: 6379, ...explicit });
}
