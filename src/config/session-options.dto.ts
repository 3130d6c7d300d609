import {
  IsArray,
  IsDefined,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsPositive,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidationError,
  validateSync,
} from 'class-validator';
import {
  DEFAULT_COOKIE_NAME,
  DEFAULT_KEY_PREFIX,
  DEFAULT_MAX_FIELDS,
  DEFAULT_MAX_SIZE,
  DEFAULT_SOCKET_TIMEOUT,
  DEFAULT_TIMEOUT,
  MIN_SECRET_LENGTH,
} from '../redis-session.constants.js';
import { parseEncryptionKey } from '../security/field-cipher.js';
import { unknownOptionProblems } from './option-names.js';
import { USER_KEY_PATH } from '../users/user-key.js';
import type {
  RedisNodeAddress,
  RedisSessionModuleOptions,
} from './redis-session-module-options.interface.js';

// RFC 6265 cookie-name token: no separators, controls, spaces or non-ASCII (CVE-2024-47764).
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const COOKIE_PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/;
const COOKIE_DOMAIN =
  /^\.?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const KEY_PREFIX = /^[^\s*?[\]\\]*$/;

/** How to make a secret, said where one is missing or too short. */
const SECRET_HINT = ` (make one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))")`;

/**
 * The options flattened to one level, so that class-validator checks them all in one pass and
 * each problem can be named in the form the user wrote it (`cookie.name` or `redis.sessions.cookie_name`).
 * @internal
 */
export class SessionOptionsDto {
  // Decorators run bottom-up and only the first failure is reported: "required" before "too short".
  @IsString({ message: '$property must be a string' })
  @MinLength(MIN_SECRET_LENGTH, {
    message: `$property must be at least ${MIN_SECRET_LENGTH} characters${SECRET_HINT}`,
  })
  @IsDefined({ message: `$property is required${SECRET_HINT}` })
  secret!: string;

  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  @MinLength(MIN_SECRET_LENGTH, {
    each: true,
    message: `$property each must be at least ${MIN_SECRET_LENGTH} characters`,
  })
  oldSecrets?: string[];

  @IsInt({ message: '$property must be a whole number of seconds' })
  @IsPositive()
  timeout!: number;

  @IsOptional()
  @IsInt({ message: '$property must be a whole number of seconds' })
  @IsPositive()
  absoluteTimeout?: number;

  @IsString()
  @IsNotEmpty()
  @Matches(KEY_PREFIX, {
    message: '$property must not contain spaces or glob characters (* ? [ ] \\)',
  })
  prefix!: string;

  @IsString()
  @Matches(COOKIE_NAME, {
    message: '$property must be a cookie-name token (no spaces, ; , = or control characters)',
  })
  cookieName!: string;

  @IsOptional()
  @IsInt({ message: '$property must be a whole number of seconds' })
  @IsPositive()
  cookieMaxAge?: number;

  @IsString()
  @Matches(COOKIE_PATH, {
    message: '$property must start with / and hold no ; or control characters',
  })
  cookiePath!: string;

  @IsOptional()
  @Matches(COOKIE_DOMAIN, {
    message: '$property must be a host name (no ; spaces or control characters)',
  })
  cookieDomain?: string;

  @IsIn([true, false, 'auto'], { message: '$property must be true, false or auto' })
  cookieSecure!: boolean | 'auto';

  @IsBoolean()
  cookieHttpOnly!: boolean;

  @IsIn(['lax', 'strict', 'none', false], {
    message: '$property must be lax, strict, none or false',
  })
  cookieSameSite!: string | false;

  @IsBoolean()
  cookieOnException!: boolean;

  @IsInt({ message: '$property must be a whole number of bytes (0 for no limit)' })
  @Min(0, { message: '$property must be a whole number of bytes (0 for no limit)' })
  maxSize!: number;

  @IsInt({ message: '$property must be a whole number of fields (0 for no limit)' })
  @Min(0, { message: '$property must be a whole number of fields (0 for no limit)' })
  maxFields!: number;

  @IsOptional()
  @IsString()
  @Matches(COOKIE_NAME, { message: '$property must be a cookie-name token' })
  legacyCookieName?: string;

  @IsOptional()
  @IsArray({ message: '$property must list the secrets the old cookies were signed with' })
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  legacySecrets?: string[];

  @IsString()
  @IsNotEmpty()
  @Matches(KEY_PREFIX, {
    message: '$property must not contain spaces or glob characters (* ? [ ] \\)',
  })
  legacyPrefix!: string;

  @IsBoolean()
  legacyKeep!: boolean;

  @IsBoolean()
  expressSession!: boolean;

  @IsOptional()
  @IsString()
  @Matches(USER_KEY_PATH, {
    message:
      '$property must be a session key or a dotted path into one (userId, passport.user), with no empty, __proto__, constructor or prototype segment',
  })
  userKey?: string;

  @IsNumber(
    { allowNaN: false, allowInfinity: false },
    { message: '$property must be a number of seconds' },
  )
  @Min(0, { message: '$property must be a number of seconds >= 0' })
  @Max(300, { message: '$property must be at most 300 seconds' })
  rotationGrace!: number;

  @IsOptional()
  @IsNumber(
    { allowNaN: false, allowInfinity: false },
    { message: '$property must be a number of seconds' },
  )
  @Min(0, { message: '$property must be a number of seconds >= 0' })
  touchInterval?: number;

  @IsInt({ message: '$property must be a whole number of sessions' })
  @Min(0, { message: '$property must be a number of sessions >= 0' })
  nearCache!: number;

  @IsBoolean()
  hashedKeys!: boolean;

  @IsOptional()
  @IsString()
  encryptionKey?: string;

  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  oldEncryptionKeys?: string[];

  @IsBoolean()
  trackIp!: boolean;

  @IsBoolean()
  trackUserAgent!: boolean;

  @IsOptional()
  @Matches(/^rediss?:\/\//, { message: '$property must start with redis:// or rediss://' })
  url?: string;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  host?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(65535)
  port?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  db?: number;

  @IsOptional()
  @IsString()
  username?: string;

  @IsOptional()
  @IsString()
  password?: string;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  unixSocketPath?: string;

  @IsOptional()
  @IsBoolean()
  tls?: boolean;

  @IsNumber(
    { allowNaN: false, allowInfinity: false },
    { message: '$property must be a number of seconds' },
  )
  @IsPositive()
  socketTimeout!: number;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  sentinelName?: string;
}

/** Maps an option path (`cookie.name`) to how the user wrote it, for error messages. @internal */
export type OptionLabeler = (path: string) => string;

const DTO_PATHS: Record<string, string> = {
  oldSecrets: 'oldSecrets',
  absoluteTimeout: 'absoluteTimeout',
  cookieName: 'cookie.name',
  cookieMaxAge: 'cookie.maxAge',
  cookiePath: 'cookie.path',
  cookieDomain: 'cookie.domain',
  cookieSecure: 'cookie.secure',
  cookieHttpOnly: 'cookie.httpOnly',
  cookieSameSite: 'cookie.sameSite',
  url: 'redis.url',
  host: 'redis.host',
  port: 'redis.port',
  db: 'redis.db',
  username: 'redis.username',
  password: 'redis.password',
  unixSocketPath: 'redis.unixSocketPath',
  tls: 'redis.tls',
  socketTimeout: 'redis.socketTimeout',
  sentinelName: 'redis.sentinelName',
  legacyCookieName: 'legacy.cookieName',
  legacySecrets: 'legacy.secrets',
  legacyPrefix: 'legacy.prefix',
  legacyKeep: 'legacy.keep',
  rotationGrace: 'rotationGrace',
  touchInterval: 'touchInterval',
  nearCache: 'nearCache',
  encryptionKey: 'encryptionKey',
  oldEncryptionKeys: 'oldEncryptionKeys',
};

/** Option defaults that validation sees, so a default is never reported as a problem. @internal */
export function toDto(options: RedisSessionModuleOptions): SessionOptionsDto {
  const cookie = options.cookie ?? {};
  const redis = options.redis ?? {};
  return Object.assign(new SessionOptionsDto(), {
    secret: options.secret,
    oldSecrets: options.oldSecrets,
    timeout: options.timeout ?? DEFAULT_TIMEOUT,
    absoluteTimeout: options.absoluteTimeout,
    prefix: options.prefix ?? DEFAULT_KEY_PREFIX,
    cookieName: cookie.name ?? DEFAULT_COOKIE_NAME,
    cookieMaxAge: cookie.maxAge,
    cookiePath: cookie.path ?? '/',
    cookieDomain: cookie.domain,
    cookieSecure: cookie.secure ?? 'auto',
    cookieHttpOnly: cookie.httpOnly ?? true,
    cookieSameSite: cookie.sameSite ?? 'lax',
    cookieOnException: options.cookieOnException ?? true,
    maxSize: options.maxSize ?? DEFAULT_MAX_SIZE,
    maxFields: options.maxFields ?? DEFAULT_MAX_FIELDS,
    legacyCookieName: options.legacy?.cookieName,
    legacySecrets: options.legacy?.secrets,
    legacyPrefix: options.legacy?.prefix ?? 'sess:',
    legacyKeep: options.legacy?.keep ?? false,
    expressSession: options.expressSession ?? false,
    userKey: options.userKey,
    rotationGrace: options.rotationGrace ?? 0,
    touchInterval: options.touchInterval,
    nearCache: options.nearCache ?? 0,
    encryptionKey: options.encryptionKey,
    hashedKeys: options.hashedKeys ?? false,
    oldEncryptionKeys: options.oldEncryptionKeys,
    trackIp: options.trackIp ?? true,
    trackUserAgent: options.trackUserAgent ?? true,
    url: redis.url,
    host: redis.host,
    port: redis.port,
    db: redis.db,
    username: redis.username,
    password: redis.password,
    unixSocketPath: redis.unixSocketPath,
    tls: redis.tls,
    socketTimeout: redis.socketTimeout ?? DEFAULT_SOCKET_TIMEOUT,
    sentinelName: redis.sentinelName,
  });
}

/** Options whose values are never quoted back: an error message may end up in a log. */
const SECRET_OPTIONS = new Set([
  'secret',
  'oldSecrets',
  'legacySecrets',
  'password',
  'username',
  'url',
  'encryptionKey',
  'oldEncryptionKeys',
]);

/** `, got "later"`: the value as written, for options that are not secrets. */
function got(property: string, value: unknown): string {
  if (SECRET_OPTIONS.has(property) || value === undefined) return '';
  if (typeof value === 'string') return `, got ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null)
    return `, got ${String(value)}`;
  return `, got ${Array.isArray(value) ? 'an array' : `a ${typeof value}`}`;
}

function flatten(errors: ValidationError[], label: OptionLabeler): string[] {
  return errors.flatMap((error) =>
    Object.values(error.constraints ?? {}).map(
      (message) =>
        `${label(DTO_PATHS[error.property] ?? error.property)} ${message.replace(/^\S+ /, '')}${got(error.property, error.value)}`,
    ),
  );
}

function nodeProblems(nodes: RedisNodeAddress[] | undefined, path: string, label: OptionLabeler) {
  if (nodes === undefined) return [];
  // The settings' "host:port,host:port" text, given in code where the options want objects.
  if (typeof nodes === 'string')
    return [
      `${label(path)} must be an array of { host, port } in code, got the text ${JSON.stringify(nodes)} (the host:port,… form is for settings)`,
    ];
  if (!Array.isArray(nodes) || nodes.length === 0)
    return [`${label(path)} must list at least one host:port`];
  return nodes
    .filter(
      (n) =>
        typeof n?.host !== 'string' ||
        !n.host ||
        !Number.isInteger(n.port) ||
        n.port < 1 ||
        n.port > 65535,
    )
    .map((n) => `${label(path)} has an invalid address ${JSON.stringify(n)} (want host:port)`);
}

/** Rules that tie several options together: cookie prefixes, Sentinel, client objects. */
function crossProblems(
  options: RedisSessionModuleOptions,
  dto: SessionOptionsDto,
  label: OptionLabeler,
) {
  const problems: string[] = [];
  const name = dto.cookieName;
  if (typeof name === 'string' && name.startsWith('__Host-')) {
    if (dto.cookieSecure === false)
      problems.push(`${label('cookie.name')} __Host- needs ${label('cookie.secure')} true or auto`);
    if (dto.cookieDomain)
      problems.push(`${label('cookie.name')} __Host- forbids ${label('cookie.domain')}`);
    if (dto.cookiePath !== '/')
      problems.push(`${label('cookie.name')} __Host- needs ${label('cookie.path')} /`);
  }
  if (typeof name === 'string' && name.startsWith('__Secure-') && dto.cookieSecure === false) {
    problems.push(`${label('cookie.name')} __Secure- needs ${label('cookie.secure')} true or auto`);
  }
  if (dto.cookieSameSite === 'none' && dto.cookieSecure === false) {
    problems.push(
      `${label('cookie.sameSite')} none needs ${label('cookie.secure')} true or auto (browsers drop it otherwise)`,
    );
  }
  if (
    typeof dto.touchInterval === 'number' &&
    typeof dto.timeout === 'number' &&
    // A timeout that is itself wrong is named once, not again through this rule.
    dto.timeout > 0 &&
    dto.touchInterval > dto.timeout / 10
  ) {
    problems.push(
      `${label('touchInterval')} must be at most a tenth of ${label('timeout')} (${dto.timeout / 10} s)`,
    );
  }
  if (typeof dto.nearCache === 'number' && dto.nearCache > 0) {
    if (dto.touchInterval === 0)
      problems.push(
        `${label('nearCache')} needs ${label('touchInterval')} > 0 (it serves reads inside it)`,
      );
    if (options.redis?.clusterNodes)
      problems.push(`${label('nearCache')} is not available with ${label('redis.clusterNodes')}`);
    if (options.store !== undefined)
      problems.push(`${label('nearCache')} needs the Redis store, not a custom ${label('store')}`);
  }
  if (dto.legacyCookieName !== undefined && !(dto.legacySecrets?.length ?? 0))
    problems.push(`${label('legacy.secrets')} is required with ${label('legacy.cookieName')}`);
  for (const [path, keys] of [
    ['encryptionKey', dto.encryptionKey === undefined ? [] : [dto.encryptionKey]],
    ['oldEncryptionKeys', dto.oldEncryptionKeys ?? []],
  ] as const) {
    for (const key of keys) {
      const parsed = parseEncryptionKey(String(key));
      if (typeof parsed === 'string') problems.push(`${label(path)} ${parsed}`);
    }
  }
  if (dto.legacyCookieName !== undefined && dto.legacyPrefix === dto.prefix)
    problems.push(`${label('legacy.prefix')} must differ from ${label('prefix')}`);
  if (dto.legacyCookieName !== undefined && dto.legacyCookieName === dto.cookieName)
    problems.push(`${label('legacy.cookieName')} must differ from ${label('cookie.name')}`);
  const redis = options.redis ?? {};
  problems.push(...nodeProblems(redis.sentinels, 'redis.sentinels', label));
  problems.push(...nodeProblems(redis.clusterNodes, 'redis.clusterNodes', label));
  if (redis.sentinels && !redis.sentinelName)
    problems.push(`${label('redis.sentinelName')} is required with ${label('redis.sentinels')}`);
  if (redis.sentinels && redis.clusterNodes)
    problems.push(
      `${label('redis.sentinels')} and ${label('redis.clusterNodes')} exclude each other`,
    );
  const client = options.client as { defineCommand?: unknown } | undefined;
  if (client !== undefined && typeof client?.defineCommand !== 'function') {
    problems.push('client must be an ioredis Redis or Cluster instance');
  }
  if (options.clientFactory !== undefined && typeof options.clientFactory !== 'function')
    problems.push('clientFactory must be a function');
  if (options.idGenerator !== undefined && typeof options.idGenerator !== 'function')
    problems.push('idGenerator must be a function');
  const serializer = options.serializer;
  if (
    serializer !== undefined &&
    (typeof serializer?.serialize !== 'function' || typeof serializer?.deserialize !== 'function')
  ) {
    problems.push('serializer must have serialize() and deserialize()');
  }
  const store = options.store as { load?: unknown } | undefined;
  if (store !== undefined && typeof store?.load !== 'function')
    problems.push('store must implement SessionStore');
  return problems;
}

/**
 * Every problem with the options, each named as the user wrote it; empty when they are valid.
 * @internal
 */
export function optionProblems(
  options: RedisSessionModuleOptions,
  label: OptionLabeler = (p) => p,
): string[] {
  return checkOptions(options, label).problems;
}

/**
 * The options with their defaults applied (the DTO), and every problem with them. The one place
 * defaults are applied: the resolved configuration is read from this DTO.
 * @internal
 */
export function checkOptions(
  options: RedisSessionModuleOptions,
  label: OptionLabeler = (p) => p,
): { dto: SessionOptionsDto; problems: string[] } {
  if (options === null || typeof options !== 'object') {
    return { dto: new SessionOptionsDto(), problems: ['options must be an object'] };
  }
  const unknown = unknownOptionProblems(options);
  const dto = toDto(options);
  const errors = validateSync(dto, { stopAtFirstError: true, validationError: { target: false } });
  return {
    dto,
    problems: [...unknown, ...flatten(errors, label), ...crossProblems(options, dto, label)],
  };
}
