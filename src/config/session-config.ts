import { serialize, type SerializeOptions } from 'cookie';
import { createSecretKey, type KeyObject } from 'node:crypto';
import type { RedisSessionModuleOptions } from './redis-session-module-options.interface.js';
import { generateSessionId } from '../security/cookie-signature.util.js';
import { JsonSessionSerializer } from '../session/json-session.serializer.js';
import { checkOptions } from './session-options.dto.js';
import type { SessionSerializer } from '../session/session-serializer.interface.js';
import { FieldCipher, parseEncryptionKey } from '../security/field-cipher.js';
import { InvalidSessionOptionsError } from '../session.errors.js';
import { DEFAULT_TOUCH_INTERVAL } from '../redis-session.constants.js';

/**
 * Options with every default applied, validated once at boot; what the request path reads.
 * @internal
 */
export interface SessionConfig {
  /**
   * The current secret first, then the old ones, as HMAC keys made once: a string key would be
   * re-derived on every request.
   */
  secretKeys: KeyObject[];
  timeoutSeconds: number;
  absoluteTimeoutMs?: number;
  prefix: string;
  cookieName: string;
  cookieMaxAge?: number;
  cookieSecure: boolean | 'auto';
  cookieOnException: boolean;
  maxSize?: number;
  maxFields?: number;
  expressSession: boolean;
  /** The session key that holds the user id, kept in sync with the binding. */
  userKey?: string;
  trackIp: boolean;
  rotationGraceMs: number;
  /** `touch_interval` in ms (0: every read slides the TTL). */
  touchIntervalMs: number;
  /** `near_cache`: sessions kept in memory per process (0: off). */
  nearCacheSize: number;
  hashedKeys: boolean;
  /** Encryption at rest, when an encryption key is configured. */
  cipher?: FieldCipher;
  trackUserAgent: boolean;
  /** The previous library's sessions, when moving them is on. */
  legacy?: { cookieName: string; secrets: string[]; prefix: string; keep: boolean };
  socketTimeoutMs: number;
  serializer: SessionSerializer;
  idGenerator: () => string;
  /** Set-Cookie attributes, without `secure` (decided per request when `auto`). */
  cookieAttributes: SerializeOptions;
}

/**
 * Validates and resolves the options; throws one `InvalidSessionOptionsError` naming every
 * problem. Defaults come from the validated DTO, so they are applied in one place.
 * @internal
 */
export function resolveSessionConfig(options: RedisSessionModuleOptions): SessionConfig {
  const { dto, problems } = checkOptions(options);
  if (problems.length > 0) throw new InvalidSessionOptionsError(problems);
  const config: SessionConfig = {
    secretKeys: [dto.secret, ...(dto.oldSecrets ?? [])].map((secret) =>
      createSecretKey(Buffer.from(secret)),
    ),
    timeoutSeconds: dto.timeout,
    absoluteTimeoutMs: dto.absoluteTimeout === undefined ? undefined : dto.absoluteTimeout * 1000,
    prefix: dto.prefix,
    cookieName: dto.cookieName,
    cookieMaxAge: dto.cookieMaxAge,
    // A __Host- or __Secure- cookie without Secure is dropped by every browser, so `auto` can
    // only mean Secure for them (browsers accept it on http://localhost too).
    cookieSecure:
      dto.cookieSecure === 'auto' && /^__(Host|Secure)-/.test(dto.cookieName)
        ? true
        : dto.cookieSecure,
    cookieOnException: dto.cookieOnException,
    maxSize: dto.maxSize === 0 ? undefined : dto.maxSize,
    maxFields: dto.maxFields === 0 ? undefined : dto.maxFields,
    expressSession: dto.expressSession,
    userKey: dto.userKey,
    trackIp: dto.trackIp,
    rotationGraceMs: Math.round(dto.rotationGrace * 1000),
    touchIntervalMs: Math.round(
      (dto.touchInterval ?? Math.min(DEFAULT_TOUCH_INTERVAL, dto.timeout / 10)) * 1000,
    ),
    nearCacheSize: dto.nearCache,
    hashedKeys: dto.hashedKeys,
    cipher:
      dto.encryptionKey === undefined
        ? undefined
        : new FieldCipher(
            parseEncryptionKey(dto.encryptionKey) as Buffer,
            (dto.oldEncryptionKeys ?? []).map((k) => parseEncryptionKey(k) as Buffer),
          ),
    trackUserAgent: dto.trackUserAgent,
    legacy:
      dto.legacyCookieName === undefined
        ? undefined
        : {
            cookieName: dto.legacyCookieName,
            secrets: dto.legacySecrets ?? [],
            prefix: dto.legacyPrefix,
            keep: dto.legacyKeep,
          },
    socketTimeoutMs: dto.socketTimeout * 1000,
    serializer: options.serializer ?? new JsonSessionSerializer(),
    idGenerator: options.idGenerator ?? generateSessionId,
    cookieAttributes: {
      path: dto.cookiePath,
      domain: dto.cookieDomain,
      httpOnly: dto.cookieHttpOnly,
      sameSite:
        dto.cookieSameSite === false
          ? undefined
          : (dto.cookieSameSite as 'lax' | 'strict' | 'none'),
    },
  };
  // Serialize once at boot so a bad name or attribute fails here, not on the first request.
  serialize(config.cookieName, 'x', config.cookieAttributes);
  return config;
}
