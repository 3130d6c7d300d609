import { serialize, type SerializeOptions } from 'cookie';
import { createSecretKey, type KeyObject } from 'node:crypto';
import {
  DEFAULT_COOKIE_NAME,
  DEFAULT_KEY_PREFIX,
  DEFAULT_SOCKET_TIMEOUT,
  DEFAULT_TIMEOUT,
} from './redis-session.constants.js';
import type {
  RedisSessionModuleOptions,
  SessionSameSite,
} from './redis-session-module-options.interface.js';
import { generateSessionId } from './cookie-signature.util.js';
import { JsonSessionSerializer } from './json-session.serializer.js';
import { optionProblems } from './session-options.dto.js';
import type { SessionSerializer } from './session-serializer.interface.js';
import { InvalidSessionOptionsError } from './session.errors.js';

/**
 * Options with every default applied, validated once at boot; what the request path reads.
 * @internal
 */
export interface SessionConfig {
  /** The current secret first, then the old ones. */
  secrets: string[];
  /** The same secrets as HMAC keys, made once: a string key would be re-derived on every request. */
  secretKeys: KeyObject[];
  timeoutSeconds: number;
  absoluteTimeoutMs?: number;
  prefix: string;
  cookieName: string;
  cookieMaxAge?: number;
  cookieSecure: boolean | 'auto';
  cookieOnException: boolean;
  maxSize?: number;
  socketTimeoutMs: number;
  serializer: SessionSerializer;
  idGenerator: () => string;
  /** Set-Cookie attributes, without `secure` (decided per request when `auto`). */
  cookieAttributes: SerializeOptions;
}

/**
 * Applies defaults and validates; throws one `InvalidSessionOptionsError` naming every problem.
 * @internal
 */
export function resolveSessionConfig(options: RedisSessionModuleOptions): SessionConfig {
  const problems = optionProblems(options);
  if (problems.length > 0) throw new InvalidSessionOptionsError(problems);
  const cookie = options.cookie ?? {};
  const sameSite: SessionSameSite = cookie.sameSite ?? 'lax';
  const config: SessionConfig = {
    secrets: [options.secret, ...(options.oldSecrets ?? [])],
    secretKeys: [options.secret, ...(options.oldSecrets ?? [])].map((secret) =>
      createSecretKey(Buffer.from(secret)),
    ),
    timeoutSeconds: options.timeout ?? DEFAULT_TIMEOUT,
    absoluteTimeoutMs:
      options.absoluteTimeout === undefined ? undefined : options.absoluteTimeout * 1000,
    prefix: options.prefix ?? DEFAULT_KEY_PREFIX,
    cookieName: cookie.name ?? DEFAULT_COOKIE_NAME,
    cookieMaxAge: cookie.maxAge,
    cookieSecure: cookie.secure ?? 'auto',
    cookieOnException: options.cookieOnException ?? true,
    maxSize: options.maxSize,
    socketTimeoutMs: (options.redis?.socketTimeout ?? DEFAULT_SOCKET_TIMEOUT) * 1000,
    serializer: options.serializer ?? new JsonSessionSerializer(),
    idGenerator: options.idGenerator ?? generateSessionId,
    cookieAttributes: {
      path: cookie.path ?? '/',
      domain: cookie.domain,
      httpOnly: cookie.httpOnly ?? true,
      sameSite: sameSite === false ? undefined : sameSite,
    },
  };
  // Serialize once at boot so a bad name or attribute fails here, not on the first request.
  serialize(config.cookieName, 'x', config.cookieAttributes);
  return config;
}
