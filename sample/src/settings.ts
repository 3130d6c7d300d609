import { randomBytes } from 'node:crypto';

/** Where the sample looks for Redis when no connection setting is given. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** The sample's key namespace, unless REDIS_SESSIONS_PREFIX says otherwise. */
export const DEFAULT_PREFIX = 'sample:session:';

/** Settings as `sessionOptionsFromSettings` reads them: `REDIS_SESSIONS_*` (or `redis.sessions.*`). */
export type Settings = Record<string, string | undefined>;

const CONNECTION = ['url', 'host', 'port', 'unix_socket_path', 'sentinels', 'cluster_nodes'];

/** Whether a setting is given, in either form (empty strings count as unset, as in the library). */
export function isSet(settings: Settings, name: string): boolean {
  const value =
    settings[`REDIS_SESSIONS_${name.toUpperCase()}`] ?? settings[`redis.sessions.${name}`];
  return value !== undefined && value !== '';
}

/**
 * The sample's own defaults where a setting is not given: its key prefix, and the local Redis
 * URL unless some connection setting is present. Everything else is the library's default.
 */
export function withSampleDefaults(settings: Settings): Settings {
  const result = { ...settings };
  if (!isSet(settings, 'prefix')) result.REDIS_SESSIONS_PREFIX = DEFAULT_PREFIX;
  if (!CONNECTION.some((name) => isSet(settings, name)))
    result.REDIS_SESSIONS_URL = DEFAULT_REDIS_URL;
  return result;
}

/**
 * The settings with a random secret when none is given, and whether one was made: sessions then
 * last only as long as the process (the cookies of a previous run no longer verify).
 */
export function withSecret(settings: Settings): { settings: Settings; generated: boolean } {
  if (isSet(settings, 'secret')) return { settings, generated: false };
  return {
    settings: { ...settings, REDIS_SESSIONS_SECRET: randomBytes(32).toString('base64url') },
    generated: true,
  };
}
