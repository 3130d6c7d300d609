import type {
  RedisSessionModuleOptions,
  SessionCookieOptions,
  SessionLegacyOptions,
  SessionRedisOptions,
} from './redis-session-module-options.interface.js';

type Known<T> = Record<keyof T, true>;

// `satisfies` keeps each list exactly in step with its interface: a name missing here, or one
// the interface does not have, is a compile error.
const TOP = {
  secret: true,
  oldSecrets: true,
  timeout: true,
  touchInterval: true,
  nearCache: true,
  absoluteTimeout: true,
  prefix: true,
  cookie: true,
  cookieOnException: true,
  maxSize: true,
  maxFields: true,
  legacy: true,
  redis: true,
  client: true,
  clientFactory: true,
  serializer: true,
  idGenerator: true,
  expressSession: true,
  userKey: true,
  rotationGrace: true,
  encryptionKey: true,
  oldEncryptionKeys: true,
  hashedKeys: true,
  trackIp: true,
  trackUserAgent: true,
  store: true,
} satisfies Known<RedisSessionModuleOptions>;

const NESTED: Record<string, readonly string[]> = {
  cookie: Object.keys({
    name: true,
    maxAge: true,
    path: true,
    domain: true,
    secure: true,
    httpOnly: true,
    sameSite: true,
  } satisfies Known<SessionCookieOptions>),
  legacy: Object.keys({
    cookieName: true,
    secrets: true,
    prefix: true,
    keep: true,
  } satisfies Known<SessionLegacyOptions>),
  redis: Object.keys({
    url: true,
    host: true,
    port: true,
    db: true,
    username: true,
    password: true,
    unixSocketPath: true,
    tls: true,
    socketTimeout: true,
    sentinels: true,
    sentinelName: true,
    clusterNodes: true,
  } satisfies Known<SessionRedisOptions>),
};

const TOP_NAMES = Object.keys(TOP);

/** Edit distance of two short strings (a typo'd name against the known ones). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * The known name a typo most likely meant, if one is close enough; failing that, a known name the
 * given one ends with after a separator (`redis_url` for `url`, `sessionTimeout` for `timeout`).
 * @internal
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  return closest(name, known) ?? qualified(name, known);
}

function qualified(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  for (const candidate of known) {
    const tail = candidate.toLowerCase();
    const at = lower.length - tail.length;
    if (at <= 0 || !lower.endsWith(tail)) continue;
    const boundary = name[at - 1] === '_' || name[at - 1] === '.' || name[at] !== lower[at];
    if (boundary && (best === undefined || candidate.length > best.length)) best = candidate;
  }
  return best;
}

function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function unknownIn(value: object, known: readonly string[], path: string): string[] {
  return Object.keys(value)
    .filter((name) => !known.includes(name))
    .map((name) => {
      const near = nearestName(name, known);
      const written = `${path}${name}`;
      return near === undefined
        ? `${written} is not a known option (known: ${known.map((k) => path + k).join(', ')})`
        : `${written} is not a known option: did you mean ${path}${near}?`;
    });
}

/**
 * Options given in code that the module does not know (a typo such as `cookie.samSite`, which
 * TypeScript misses when a factory returns an untyped object): each named, with the likely one.
 * @internal
 */
export function unknownOptionProblems(options: RedisSessionModuleOptions): string[] {
  const problems = unknownIn(options, TOP_NAMES, '');
  for (const [name, known] of Object.entries(NESTED)) {
    const nested = (options as unknown as Record<string, unknown>)[name];
    if (nested === undefined) continue;
    if (nested === null || typeof nested !== 'object' || Array.isArray(nested))
      problems.push(`${name} must be an object (${known.join(', ')})`);
    else problems.push(...unknownIn(nested, known, `${name}.`));
  }
  return problems;
}
