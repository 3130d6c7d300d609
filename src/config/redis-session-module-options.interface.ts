import type { Cluster, Redis } from 'ioredis';
import type { SessionSerializer } from '../session/session-serializer.interface.js';
import type { SessionStore } from '../store/session-store.interface.js';

/** `SameSite` attribute of the session cookie; `false` leaves the attribute out. @publicApi */
export type SessionSameSite = 'lax' | 'strict' | 'none' | false;

/** Cookie options. @publicApi */
export interface SessionCookieOptions {
  /** Cookie name. `__Host-` and `__Secure-` names are checked against their rules at boot. @default 'session' */
  name?: string;
  /** Max-Age in seconds; unset means a browser-session cookie. When set, the cookie is re-sent as the session slides. @default undefined */
  maxAge?: number;
  /** @default '/' */
  path?: string;
  /** @default undefined (host-only cookie) */
  domain?: string;
  /** `'auto'` sends `Secure` when the request is HTTPS, honouring the app's trust-proxy setting. @default 'auto' */
  secure?: boolean | 'auto';
  /** @default true */
  httpOnly?: boolean;
  /** @default 'lax' */
  sameSite?: SessionSameSite;
}

/** Where the sessions of the previous session library live. @publicApi */
export interface SessionLegacyOptions {
  /** The old cookie: `connect.sid` (express-session), `sessionId` (@fastify/session). */
  cookieName: string;
  /** Secrets the old cookies were signed with (all are tried). */
  secrets: string[];
  /** The old store's key prefix. @default 'sess:' */
  prefix?: string;
  /** Keep the old key after moving it (for a rollback). @default false */
  keep?: boolean;
}

/** A Redis node address. @publicApi */
export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** How the module connects to Redis when it makes the client itself. @publicApi */
export interface SessionRedisOptions {
  /** `redis://user:pass@host:port/db` or `rediss://…`; other fields override its parts. */
  url?: string;
  /** @default 'localhost' */
  host?: string;
  /** @default 6379 */
  port?: number;
  /** @default 0 */
  db?: number;
  username?: string;
  password?: string;
  /** Connect through a unix socket instead of TCP. */
  unixSocketPath?: string;
  /** `true` for TLS with default options. */
  tls?: boolean;
  /**
   * Seconds a command may take, and so how long a request waits on Redis before a 503.
   * A client passed in through `client` or `clientFactory` gets a request-side timer of the same
   * length; give it `commandTimeout` and `enableOfflineQueue: false` too, so a timed-out command
   * is not sent later.
   * @default 2
   */
  socketTimeout?: number;
  /** Sentinel addresses; needs `sentinelName`. */
  sentinels?: RedisNodeAddress[];
  /** The master group name the sentinels watch. */
  sentinelName?: string;
  /** Cluster seed nodes: use Redis Cluster. */
  clusterNodes?: RedisNodeAddress[];
}

/**
 * Options of `RedisSessionModule.forRoot(options)`. Every setting of `sessionOptionsFromSettings`
 * has its camelCase place here; what settings cannot express (clients, stores, functions) too.
 * @publicApi
 */
export interface RedisSessionModuleOptions {
  /** Signing secret, at least 32 characters. */
  secret: string;
  /** Secrets that still verify cookies but never sign (rotation). @default [] */
  oldSecrets?: string[];
  /** Idle timeout in seconds, sliding. @default 1200 */
  timeout?: number;
  /**
   * Seconds within which a read after the last slide of the TTL reads with a plain HGETALL and
   * leaves the TTL alone; each slide adds this much to the TTL, so an idle session ends between
   * `timeout` and `timeout + touchInterval` after its last request (never before). At most a
   * tenth of `timeout` (a session's own timeout from `adjustTimeout` caps it the same way);
   * `0` slides on every read. The absolute deadline is exact either way.
   * @default 60, or a tenth of `timeout` when that is less
   */
  touchInterval?: number;
  /**
   * Near cache: how many sessions each process keeps in memory, served with no round trip while
   * Redis' server-assisted client-side caching (`CLIENT TRACKING`, pushed invalidations on a
   * second connection) says nobody changed them. A read inside `touchInterval` of the last slide
   * then sends nothing; a write sends only its update. A change from another process (a write, a
   * logout, a regenerate) drops the copy before that process's reply is out; a dropped connection
   * drops every copy. Standalone or Sentinel Redis 6+, not Cluster; needs `touchInterval` > 0.
   * Memory: up to this many sessions of up to `maxSize` bytes each.
   * @default 0 (off)
   */
  nearCache?: number;
  /** Maximum lifetime in seconds since creation, whatever the activity. @default undefined (none) */
  absoluteTimeout?: number;
  /** Redis key namespace: a session is stored under `<prefix><id>`. @default 'session:' */
  prefix?: string;
  /** Cookie attributes. */
  cookie?: SessionCookieOptions;
  /** Persist the session and set the cookie even when the handler throws. @default true */
  cookieOnException?: boolean;
  /**
   * Largest serialized session in bytes; a larger commit fails and writes nothing, and a stored
   * session over it is treated as corrupt (a fresh session). `0` for no limit.
   * @default 1048576 (1 MiB)
   */
  maxSize?: number;
  /** Most top-level keys a session holds; a commit with more fails and writes nothing. `0` for no limit. @default 10000 */
  maxFields?: number;
  /**
   * Sessions of express-session / @fastify/session (connect-redis JSON strings) to move into
   * this library on first sight, so a switch logs nobody out. Setting `cookieName` turns it on.
   */
  legacy?: SessionLegacyOptions;
  /** Connection settings, used when neither `client`, `clientFactory` nor `store` is given. */
  redis?: SessionRedisOptions;
  /** An existing ioredis client or Cluster; the module never closes it. */
  client?: Redis | Cluster;
  /** Makes the client; the module closes what it returns on shutdown. */
  clientFactory?: () => Redis | Cluster;
  /** Per-field value codec. @default JsonSessionSerializer */
  serializer?: SessionSerializer;
  /** Session id generator; its ids must match `^[A-Za-z0-9_-]{22,256}$`. @default 32 random bytes, base64url */
  idGenerator?: () => string;
  /**
   * Give every request an express-session-shaped `req.session` (and `req.sessionID`), for
   * passport's session login and other Connect middleware. See `ExpressSessionMiddleware`.
   * @default false
   */
  expressSession?: boolean;
  /**
   * A session key that holds the user id (`'userId'`), or a dotted path into one
   * (`'passport.user'`): writing a user id there binds the session to that user for
   * `userSessions` and `revokeUserSessions`, removing it unbinds, and `setUser` writes it. A
   * session loaded with the key already in it (moved from express-session, say) is bound on
   * its first request.
   * @default undefined
   */
  userKey?: string;
  /**
   * Seconds the old id of a regenerated session keeps working, read-only and mapped to its
   * successor, for requests already in flight (a single-page app's parallel requests at login).
   * `0`: the old id is dead at once.
   * @default 0
   */
  rotationGrace?: number;
  /**
   * Encrypt session values at rest (AES-256-GCM) with this 32-byte key, as 64 hex digits or
   * base64: a Redis dump or a read-only Redis user reveals no session data.
   * @default undefined (values stored as JSON)
   */
  encryptionKey?: string;
  /** Keys that still decrypt, never encrypt (key rotation). @default [] */
  oldEncryptionKeys?: string[];
  /**
   * Store each session under a keyed hash of its id (`<prefix>~<hash>`), so a key listing, a dump
   * or MONITOR reveals no usable session id. `ids()` then lists those hashes, which
   * `destroy`/`exists` accept too. Switching it on ends the sessions stored under plain keys.
   * @default false
   */
  hashedKeys?: boolean;
  /** Store the client IP of a bound session (as the app's trust-proxy setting gives it). @default true */
  trackIp?: boolean;
  /** Store the User-Agent of a bound session. @default true */
  trackUserAgent?: boolean;
  /** A store other than Redis, for example `new MemorySessionStore()` in tests. */
  store?: SessionStore;
}

/**
 * Implemented by the class given to `forRootAsync({ useClass })` or `useExisting`.
 * @publicApi
 */
export interface RedisSessionOptionsFactory {
  createRedisSessionOptions(): Promise<RedisSessionModuleOptions> | RedisSessionModuleOptions;
}
