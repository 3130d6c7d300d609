import { DEFAULT_SETTINGS_PREFIX } from '../redis-session.constants.js';
import type {
  RedisNodeAddress,
  RedisSessionModuleOptions,
} from './redis-session-module-options.interface.js';
import { nearestName } from './option-names.js';
import { optionProblems } from './session-options.dto.js';
import { InvalidSessionOptionsError } from '../session.errors.js';

type Kind = 'string' | 'int' | 'number' | 'bool' | 'list' | 'secure' | 'sameSite' | 'nodes';

/** Every setting: its kind (how a string is coerced) and its place in the options object. */
const SETTINGS: Record<string, [Kind, string]> = {
  secret: ['string', 'secret'],
  old_secrets: ['list', 'oldSecrets'],
  timeout: ['int', 'timeout'],
  absolute_timeout: ['int', 'absoluteTimeout'],
  prefix: ['string', 'prefix'],
  cookie_name: ['string', 'cookie.name'],
  cookie_max_age: ['int', 'cookie.maxAge'],
  cookie_path: ['string', 'cookie.path'],
  cookie_domain: ['string', 'cookie.domain'],
  cookie_secure: ['secure', 'cookie.secure'],
  cookie_httponly: ['bool', 'cookie.httpOnly'],
  cookie_samesite: ['sameSite', 'cookie.sameSite'],
  cookie_on_exception: ['bool', 'cookieOnException'],
  max_size: ['int', 'maxSize'],
  max_fields: ['int', 'maxFields'],
  url: ['string', 'redis.url'],
  host: ['string', 'redis.host'],
  port: ['int', 'redis.port'],
  db: ['int', 'redis.db'],
  username: ['string', 'redis.username'],
  password: ['string', 'redis.password'],
  unix_socket_path: ['string', 'redis.unixSocketPath'],
  tls: ['bool', 'redis.tls'],
  socket_timeout: ['number', 'redis.socketTimeout'],
  sentinels: ['nodes', 'redis.sentinels'],
  sentinel_name: ['string', 'redis.sentinelName'],
  cluster_nodes: ['nodes', 'redis.clusterNodes'],
  user_key: ['string', 'userKey'],
  rotation_grace: ['number', 'rotationGrace'],
  touch_interval: ['number', 'touchInterval'],
  near_cache: ['int', 'nearCache'],
  hashed_keys: ['bool', 'hashedKeys'],
  encryption_key: ['string', 'encryptionKey'],
  old_encryption_keys: ['list', 'oldEncryptionKeys'],
  track_ip: ['bool', 'trackIp'],
  track_user_agent: ['bool', 'trackUserAgent'],
  legacy_cookie_name: ['string', 'legacy.cookieName'],
  legacy_secrets: ['list', 'legacy.secrets'],
  legacy_prefix: ['string', 'legacy.prefix'],
  legacy_keep: ['bool', 'legacy.keep'],
};

const SETTING_BY_PATH = new Map(Object.entries(SETTINGS).map(([name, [, path]]) => [path, name]));
const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** The names of every setting `sessionOptionsFromSettings` knows, in snake_case. @publicApi */
export const SESSION_SETTING_NAMES: readonly string[] = Object.keys(SETTINGS);

/**
 * What Kubernetes puts in every pod of a namespace for a Service (its name upper-cased, so a
 * Service called `redis-sessions` makes `REDIS_SESSIONS_SERVICE_HOST`, `REDIS_SESSIONS_PORT=
 * tcp://10.0.0.5:6379`, `REDIS_SESSIONS_PORT_6379_TCP_ADDR`…): never a setting of ours.
 */
const SERVICE_LINK_NAME =
  /^(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT_\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)$/;
const SERVICE_LINK_PORT = /^(tcp|udp|sctp):\/\/[^/\s]+:\d+$/;

function isServiceLink(rest: string, raw: unknown): boolean {
  if (SERVICE_LINK_NAME.test(rest)) return true;
  return rest === 'PORT' && typeof raw === 'string' && SERVICE_LINK_PORT.test(raw.trim());
}

function envPrefixOf(prefix: string): string {
  return prefix.replace(/[^A-Za-z0-9]/g, '_').toUpperCase();
}

function parseNodes(text: string): RedisNodeAddress[] | undefined {
  const nodes = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(':');
      const port = Number(entry.slice(at + 1));
      return { host: entry.slice(0, at).replace(/^\[|\]$/g, ''), port };
    });
  return nodes.every((n) => n.host && Number.isInteger(n.port)) && nodes.length > 0
    ? nodes
    : undefined;
}

/** Coerces one raw value; returns `undefined` plus a complaint when it cannot. */
function coerce(kind: Kind, raw: unknown): [unknown, string?] {
  if (typeof raw !== 'string') return [raw];
  const text = raw.trim();
  const lower = text.toLowerCase();
  switch (kind) {
    case 'string':
      return [text];
    case 'int':
      return /^-?\d+$/.test(text)
        ? [Number(text)]
        : [undefined, `must be a whole number, got "${raw}"`];
    case 'number':
      return text !== '' && Number.isFinite(Number(text))
        ? [Number(text)]
        : [undefined, `must be a number, got "${raw}"`];
    case 'bool':
      if (TRUE.has(lower)) return [true];
      return FALSE.has(lower)
        ? [false]
        : [undefined, `must be true or false (or yes/no, on/off, 1/0), got "${raw}"`];
    case 'secure':
      if (lower === 'auto') return ['auto'];
      return coerce('bool', text).length === 1
        ? coerce('bool', text)
        : [undefined, `must be true, false or auto, got "${raw}"`];
    case 'sameSite':
      if (FALSE.has(lower)) return [false];
      return ['lax', 'strict', 'none'].includes(lower)
        ? [lower]
        : [undefined, `must be lax, strict, none or false, got "${raw}"`];
    case 'list':
      return [
        text
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ];
    case 'nodes': {
      const nodes = parseNodes(text);
      return nodes ? [nodes] : [undefined, `must be host:port[,host:port…], got "${raw}"`];
    }
  }
}

function assign(target: Record<string, any>, path: string, value: unknown): void {
  const [group, key] = path.split('.');
  if (key === undefined) target[group] = value;
  else (target[group] ??= {})[key] = value;
}

/**
 * Builds module options from a flat record of settings, as pyramid_redis_sessions'
 * `session_factory_from_settings` does: keeps only the prefixed keys, in dotted form
 * (`redis.sessions.cookie_name`) or environment form (`REDIS_SESSIONS_COOKIE_NAME`), coerces
 * strings to numbers, booleans and lists, validates, and throws ONE `InvalidSessionOptionsError`
 * that names every invalid, unknown or missing setting. Empty strings count as unset, and the
 * variables Kubernetes injects for a Service whose name matches the prefix
 * (`REDIS_SESSIONS_SERVICE_HOST`, `REDIS_SESSIONS_PORT=tcp://…`) are not settings.
 *
 * @example RedisSessionModule.forRoot(sessionOptionsFromSettings(process.env))
 * @param settings a flat record such as `process.env` or a parsed config file.
 * @param prefix the dotted prefix; its environment form is derived (`a.b.` → `A_B_`).
 * @publicApi
 */
export function sessionOptionsFromSettings(
  settings: Record<string, unknown>,
  prefix: string = DEFAULT_SETTINGS_PREFIX,
): RedisSessionModuleOptions {
  const envPrefix = envPrefixOf(prefix);
  const problems: string[] = [];
  const seen = new Map<string, [string, unknown]>();
  for (const [key, raw] of Object.entries(settings ?? {})) {
    let name: string | undefined;
    if (key.startsWith(prefix)) name = key.slice(prefix.length);
    else if (key.startsWith(envPrefix)) {
      const rest = key.slice(envPrefix.length);
      if (isServiceLink(rest, raw)) continue;
      name = rest.toLowerCase();
    }
    if (name === undefined || raw === undefined || raw === '') continue;
    // Object.hasOwn: `name in` would take CONSTRUCTOR or TO_STRING for settings.
    if (!Object.hasOwn(SETTINGS, name)) {
      const near = nearestName(name, SESSION_SETTING_NAMES);
      // Named in the form the user wrote: REDIS_SESSIONS_TIMEOUT for an environment variable.
      const written = (known: string) =>
        key.startsWith(envPrefix) ? `${envPrefix}${known.toUpperCase()}` : `${prefix}${known}`;
      problems.push(
        near === undefined
          ? `${key} is not a known setting (known: ${SESSION_SETTING_NAMES.map(written).join(', ')})`
          : `${key} is not a known setting: did you mean ${written(near)}?`,
      );
      continue;
    }
    const earlier = seen.get(name);
    if (earlier && String(earlier[1]) !== String(raw)) {
      problems.push(`${earlier[0]} and ${key} name the same setting with different values`);
    }
    seen.set(name, [key, raw]);
  }
  const options: Record<string, any> = {};
  for (const [name, [key, raw]] of seen) {
    const [kind, path] = SETTINGS[name];
    const [value, complaint] = coerce(kind, raw);
    if (complaint) problems.push(`${key} ${complaint}`);
    else assign(options, path, value);
  }
  // A problem names the setting as the user wrote it; one never given, in both forms.
  const label = (path: string) => {
    const name = SETTING_BY_PATH.get(path) ?? path;
    const given = seen.get(name)?.[0];
    return given ?? `${envPrefix}${name.toUpperCase()} (${prefix}${name})`;
  };
  const coerced = new Set(problems.map((p) => p.split(' ')[0]));
  problems.push(
    ...optionProblems(options as RedisSessionModuleOptions, label).filter(
      // A setting that failed coercion is already reported once; do not report it again as missing.
      (p) => ![...coerced].some((key) => p.includes(key)),
    ),
  );
  if (problems.length > 0) throw new InvalidSessionOptionsError(problems);
  return options as RedisSessionModuleOptions;
}
