/**
 * Prefix of the dotted settings `sessionOptionsFromSettings` reads by default
 * (`redis.sessions.secret`); its environment form is `REDIS_SESSIONS_SECRET`.
 * @publicApi
 */
export const DEFAULT_SETTINGS_PREFIX = 'redis.sessions.';

/**
 * Idle timeout in seconds when none is configured (20 minutes, as pyramid_redis_sessions).
 * @publicApi
 */
export const DEFAULT_TIMEOUT = 1200;

/**
 * Default `touch_interval`, seconds (capped at a tenth of the idle timeout): reads within it of the
 * last TTL slide send a plain HGETALL. @publicApi
 */
export const DEFAULT_TOUCH_INTERVAL = 60;

/**
 * Redis key namespace when none is configured: a session lives under `session:<id>`.
 * @publicApi
 */
export const DEFAULT_KEY_PREFIX = 'session:';

/**
 * Cookie name when none is configured.
 * @publicApi
 */
export const DEFAULT_COOKIE_NAME = 'session';

/**
 * Seconds a request may wait on Redis when `socket_timeout` is not configured.
 * @publicApi
 */
export const DEFAULT_SOCKET_TIMEOUT = 2;

/**
 * Shortest accepted signing secret.
 * @publicApi
 */
export const MIN_SECRET_LENGTH = 32;

/**
 * Injection token of the ioredis client (or Cluster) the module talks to, when it uses Redis.
 * @publicApi
 */
export const REDIS_SESSION_CLIENT = 'REDIS_SESSION:CLIENT';

/**
 * Largest serialized session, in bytes, when `max_size` is not configured (1 MiB): input copied
 * into a session can never grow it to what every read would have to load. `0` turns it off.
 * @publicApi
 */
export const DEFAULT_MAX_SIZE = 1_048_576;

/**
 * Most top-level keys a session may hold when `max_fields` is not configured. `0` turns it off.
 * @publicApi
 */
export const DEFAULT_MAX_FIELDS = 10_000;

/**
 * Most messages one flash queue keeps; older ones are dropped first.
 * @publicApi
 */
export const MAX_FLASH_MESSAGES = 100;
