import { Logger, type Provider } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { REDIS_SESSION_CLIENT } from './redis-session.constants.js';
import { MODULE_OPTIONS_TOKEN } from './redis-session.module-definition.js';
import type { RedisSessionModuleOptions } from './config/redis-session-module-options.interface.js';
import { createRedisClient } from './store/redis-client.factory.js';
import { HashedKeyStore } from './store/hashed-key.store.js';
import { RedisSessionStore } from './store/redis-session.store.js';
import { resolveSessionConfig, type SessionConfig } from './config/session-config.js';
import { SessionStore } from './store/session-store.interface.js';

/** Token of the resolved, validated configuration. @internal */
export const SESSION_CONFIG = 'REDIS_SESSION:CONFIG';

/**
 * String tokens the library's own classes inject by, so a copy of the library loaded through the
 * other build (a CJS dependency of an ESM app) resolves the providers of the copy that made the
 * module: class tokens differ between the two copies, strings do not.
 * @internal
 */
export const SESSION_MANAGER = 'REDIS_SESSION:MANAGER';
/** @internal */
export const SESSION_SERVICE = 'REDIS_SESSION:SERVICE';

/** Token of the store the request path talks to: `SessionStore`, wrapped for hashed keys. @internal */
export const SESSION_STORE_IN_USE = 'REDIS_SESSION:STORE_IN_USE';

/** Token of the connection the module set up: the store, and the client it made, if any. @internal */
export const SESSION_RESOURCES = 'REDIS_SESSION:RESOURCES';

/**
 * What the module owns and must release on shutdown. Made lazily: a test that overrides
 * `SessionStore` (with a `MemorySessionStore`, say) never makes a Redis client at all.
 * @internal
 */
export interface SessionResources {
  /** The store, made (with its client) on first access. */
  readonly store: SessionStore;
  /** The client, if the store was made and uses one. */
  readonly client: Redis | Cluster | null;
  /** Whether the module made the client (and so closes it). */
  readonly owned: boolean;
  /** Whether `store` was ever asked for. */
  readonly made: boolean;
}

function makeStore(
  options: RedisSessionModuleOptions,
  config: SessionConfig,
): { store: SessionStore; client: Redis | Cluster | null; owned: boolean } {
  if (options.store) return { store: options.store, client: null, owned: false };
  const owned = options.client === undefined;
  const client =
    options.client ??
    options.clientFactory?.() ??
    createRedisClient(options.redis, config.socketTimeoutMs);
  // Only a standalone client made here is known to carry the bounded options. Others get a
  // request-side timer; so does a Cluster, where ioredis retries MOVED/TRYAGAIN/CLUSTERDOWN with
  // fresh timeouts and one hung master could hold a request well past socket_timeout.
  const configuredHere = options.client === undefined && options.clientFactory === undefined;
  const isCluster = 'nodes' in client && typeof client.nodes === 'function';
  if (owned) {
    const logger = new Logger('RedisSession');
    let down = false;
    // Without a listener ioredis prints every reconnect error; log an outage once, and its end.
    client.on('error', (error: Error) => {
      if (!down)
        logger.error(`Redis connection error: ${error.message}; retrying in the background`);
      down = true;
    });
    client.on('ready', () => {
      if (down) logger.log('Redis connection restored');
      down = false;
    });
  }
  const timeout = configuredHere && !isCluster ? undefined : config.socketTimeoutMs;
  const store = new RedisSessionStore(
    client,
    config.prefix,
    owned,
    timeout,
    undefined,
    config.nearCacheSize,
  );
  return { store, client, owned };
}

function setUpResources(
  options: RedisSessionModuleOptions,
  config: SessionConfig,
): SessionResources {
  let made: ReturnType<typeof makeStore> | undefined;
  const get = () => (made ??= makeStore(options, config));
  return {
    get store() {
      return get().store;
    },
    get client() {
      return made?.client ?? null;
    },
    get owned() {
      return made?.owned ?? false;
    },
    get made() {
      return made !== undefined;
    },
  };
}

/** The module's providers beside the ones ConfigurableModuleBuilder makes. @internal */
export const sessionProviders: Provider[] = [
  { provide: SESSION_CONFIG, useFactory: resolveSessionConfig, inject: [MODULE_OPTIONS_TOKEN] },
  {
    provide: SESSION_RESOURCES,
    useFactory: setUpResources,
    inject: [MODULE_OPTIONS_TOKEN, SESSION_CONFIG],
  },
  {
    provide: SessionStore,
    useFactory: (r: SessionResources) => r.store,
    inject: [SESSION_RESOURCES],
  },
  {
    provide: SESSION_STORE_IN_USE,
    // hashed_keys wraps whatever store is in use (the configured one, or a test's override).
    useFactory: (store: SessionStore, config: SessionConfig) =>
      config.hashedKeys ? new HashedKeyStore(store, config.secretKeys[0]) : store,
    inject: [SessionStore, SESSION_CONFIG],
  },
  {
    provide: REDIS_SESSION_CLIENT,
    // From the store actually in use: an overridden store brings no client.
    useFactory: (store: SessionStore) => (store instanceof RedisSessionStore ? store.client : null),
    inject: [SessionStore],
  },
];
