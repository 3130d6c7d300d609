import type { Cluster, Redis } from 'ioredis';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { idForLog } from '../security/cookie-signature.util.js';
import type { SessionStore } from '../store/session-store.interface.js';
import { CorruptSessionError } from '../session.errors.js';
import { clearLegacyCookie, readLegacyCookie, verifyLegacyCookie } from './legacy-cookie.js';
import {
  LegacySessionError,
  decodeLegacySession,
  deriveSessionId,
  sessionFields,
} from './legacy-session.codec.js';

/** The `legacy` options of the public contract. @publicApi */
export interface LegacySessionOptions {
  /** The old cookie's name (`connect.sid` for express-session, `sessionId` for @fastify/session). */
  cookieName: string;
  /** Every secret the old cookies may be signed with. */
  secrets: string[];
  /** The old store's key prefix. @default 'sess:' */
  prefix?: string;
  /** Keep the old key after moving it (to roll back). @default false */
  keep?: boolean;
}

/** Where the importer reports what it did; messages never carry an id or stored bytes. @publicApi */
export type LegacyLogger = (level: 'debug' | 'warn', message: string) => void;

/** Less common settings of the importer. @publicApi */
export interface LegacyImporterExtras {
  /** Absolute timeout of new sessions, ms (the `$a` meta field and a TTL cap). */
  absoluteTimeoutMs?: number;
  /** Value encoder; must match the application's serializer. @default JSON.stringify */
  serialize?: (value: unknown) => string;
  /** Bound on each legacy-key command, for clients without a commandTimeout of their own. */
  commandTimeoutMs?: number;
  /** Encrypts a flat field/value list, when the application stores values encrypted. */
  encryptPairs?: (pairs: string[]) => string[];
}

/** A legacy session now living under this library's `id`. @publicApi */
export interface LegacyAdoption {
  /** The derived id: sign it into this library's cookie. */
  id: string;
  /** A Set-Cookie header that removes the legacy cookie. */
  clearCookie: string;
  /** The stored fields of the session, as `SessionStore.load` gives them, so no second load is needed. */
  fields: Map<string, string>;
}

/**
 * A validly signed legacy cookie whose session is gone (missing or expired): nothing to move, and
 * the cookie is cleared, or the browser would send it, and cost a lookup, for as long as it lives.
 * @internal
 */
export interface LegacyGone {
  gone: true;
  /** A Set-Cookie header that removes the legacy cookie. */
  clearCookie: string;
}

/** Validly signed legacy ids with no usable session, remembered so they cost no round trips. */
const DEAD_CACHE_SIZE = 10_000;
/**
 * How long a dead id is remembered. Short, because during a rolling deploy an old instance may
 * still write into an empty legacy session, which then becomes worth moving.
 */
const DEAD_CACHE_MS = 60_000;
/** How often unverifiable legacy cookies are warned about, while none has verified. */
const UNVERIFIED_WARNING_MS = 60_000;

function toMap(flat: string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) fields.set(flat[i], flat[i + 1]);
  return fields;
}

/**
 * Moves one browser's express-session / @fastify/session session (stored by connect-redis) into
 * this library on its first request, under an id derived from the legacy one, so racing requests
 * and the bulk mover all converge on one session. Every command touches one key (Cluster-safe).
 * @publicApi
 */
export class LegacySessionImporter {
  private readonly legacyPrefix: string;
  private readonly secretKeys: KeyObject[];
  private readonly salt: Buffer;
  /** Until when each dead id is remembered, and whether its cookie is cleared. */
  private readonly dead = new Map<string, { until: number; clear: boolean }>();
  /** A legacy cookie has verified: the secrets are right, and a bad one is a forgery. */
  private verified = false;
  private unverified = 0;
  private lastWarning = 0;

  /**
   * @param options the `legacy` options.
   * @param client ioredis client or Cluster holding the legacy keys.
   * @param store this library's store.
   * @param secret this library's current signing secret (the id derivation key).
   * @param timeoutMs this library's idle timeout: the TTL of a session moved on a request.
   * @param log receives one line per refused or failed move.
   */
  constructor(
    private readonly options: LegacySessionOptions,
    private readonly client: Redis | Cluster,
    private readonly store: SessionStore,
    private readonly secret: string | KeyObject,
    private readonly timeoutMs: number,
    private readonly log: LegacyLogger = () => undefined,
    private readonly extras: LegacyImporterExtras = {},
  ) {
    this.legacyPrefix = options.prefix ?? 'sess:';
    // HMAC keys made once: a string key would be re-derived on every request.
    this.secretKeys = options.secrets.map((s) => createSecretKey(Buffer.from(s)));
    this.salt = typeof secret === 'string' ? Buffer.from(secret) : secret.export();
  }

  /**
   * The session a request's legacy cookie leads to, moved into this library if needed; `null`
   * when there is no legacy cookie, it is not validly signed, or no usable session is behind it
   * (missing, expired, empty, corrupt). Touches Redis only for a validly signed cookie. Rejects
   * only when Redis does not answer (the caller answers 503).
   */
  async adopt(cookieHeader: string | undefined): Promise<LegacyAdoption | null> {
    const result = await this.resolve(cookieHeader);
    return result === null || 'gone' in result ? null : result;
  }

  /**
   * A legacy cookie no legacy secret verifies. While none has verified, it is more likely wrong
   * `legacy.secrets` than a forgery, and every old user would silently start logged out: said as
   * a warning, at most once a minute; after one has verified, a debug line.
   */
  private unverifiable(cookieName: string): void {
    this.unverified++;
    const now = Date.now();
    if (this.verified || now - this.lastWarning < UNVERIFIED_WARNING_MS) {
      this.log('debug', `Legacy cookie "${cookieName}" is not signed by a legacy secret; ignored`);
      return;
    }
    this.lastWarning = now;
    this.log(
      'warn',
      `Legacy cookie "${cookieName}" is not signed by any legacy secret (${this.unverified} so far, none verified yet): if every old cookie fails, legacy.secrets is not the old app's secret and its users start logged out`,
    );
  }

  /** As `adopt`, telling a gone session (whose cookie is to be cleared) from no usable one. */
  async resolve(cookieHeader: string | undefined): Promise<LegacyAdoption | LegacyGone | null> {
    const { cookieName } = this.options;
    const value = readLegacyCookie(cookieHeader, cookieName);
    if (value === undefined) return null;
    const legacyId = verifyLegacyCookie(value, this.secretKeys);
    if (legacyId === null) {
      this.unverifiable(cookieName);
      return null;
    }
    this.verified = true;
    const dead = this.dead.get(legacyId);
    if (dead !== undefined && dead.until > Date.now()) return dead.clear ? this.cleared() : null;
    const id = deriveSessionId(legacyId, this.secret);
    const logId = idForLog(legacyId, this.salt);

    // Moved already (by the bulk mover, an earlier request, or a racing one): one round trip.
    const existing = await this.loadDerived(id, logId);
    if (existing !== null) return this.adopted(id, existing);

    const key = this.legacyPrefix + legacyId;
    const read = await this.readLegacy(key, logId);
    if (read === 'corrupt') return this.gone(legacyId);
    if (read === null) {
      // A racing request may have moved it between our two reads (it creates before it deletes).
      const raced = await this.loadDerived(id, logId);
      if (raced !== null) return this.adopted(id, raced);
      this.log('debug', `Legacy session ${logId} is gone or expired; starting fresh`);
      return this.gone(legacyId, true);
    }
    let legacy;
    try {
      legacy = decodeLegacySession(read.text, {
        pttlMs: read.pttl,
        serialize: this.extras.serialize,
      });
    } catch (error) {
      if (!(error instanceof LegacySessionError)) throw error;
      this.log('warn', `Legacy session ${logId} is unreadable (${error.message}); starting fresh`);
      return this.gone(legacyId);
    }
    if (legacy === null || legacy.fields.length === 0) {
      this.log('debug', `Legacy session ${logId} is expired or empty; starting fresh`);
      // An empty one is kept (an old instance of a rolling deploy may still write into it).
      return this.gone(legacyId, legacy === null);
    }

    const now = Date.now();
    const { absoluteTimeoutMs } = this.extras;
    const deadline = absoluteTimeoutMs === undefined ? undefined : now + absoluteTimeoutMs;
    // Our own meta fields, so the fields handed back are exactly the stored ones (no reload). The
    // store then takes the TTL from them: the idle timeout (the user is active right now, as on
    // any request), capped by the absolute deadline; the legacy TTL left does not matter any more.
    const fields = sessionFields(legacy.fields, now, deadline);
    const clearCookie = clearLegacyCookie(cookieName, legacy.cookie);
    // Stored as the application stores values (encrypted at rest, if it is on); handed back plain.
    const stored = this.extras.encryptPairs?.(fields) ?? fields;
    if (!(await this.store.create(id, stored, this.timeoutMs, absoluteTimeoutMs))) {
      // A racing request created it first: use the one it made, which may already carry writes.
      const winner = await this.loadDerived(id, logId);
      if (winner === null) return null;
      await this.deleteLegacy(key);
      return { id, clearCookie, fields: winner };
    }
    await this.deleteLegacy(key);
    this.log('debug', `Legacy session ${logId} moved`);
    return { id, clearCookie, fields: toMap(fields) };
  }

  private adopted(id: string, fields: Map<string, string>): LegacyAdoption {
    // The stored cookie record is gone by now: clear with the default path.
    return { id, clearCookie: clearLegacyCookie(this.options.cookieName), fields };
  }

  /** A validly signed id with no usable session: remembered for a while, at no round trip. */
  private gone(legacyId: string, clear = false): LegacyGone | null {
    if (this.dead.size >= DEAD_CACHE_SIZE) this.dead.clear();
    this.dead.set(legacyId, { until: Date.now() + DEAD_CACHE_MS, clear });
    return clear ? this.cleared() : null;
  }

  private cleared(): LegacyGone {
    return { gone: true, clearCookie: clearLegacyCookie(this.options.cookieName) };
  }

  private async loadDerived(id: string, logId: string): Promise<Map<string, string> | null> {
    try {
      const fields = await this.store.load(id, this.timeoutMs);
      return fields === 'expired' ? null : fields;
    } catch (error) {
      if (!(error instanceof CorruptSessionError)) throw error;
      this.log('warn', `Session moved from legacy ${logId} is unreadable; starting fresh`);
      return null;
    }
  }

  /** GET and PTTL in one round trip (one key, so one slot on a Cluster). */
  private async readLegacy(
    key: string,
    logId: string,
  ): Promise<{ text: string; pttl: number } | 'corrupt' | null> {
    const replies = await this.bounded(this.client.pipeline().get(key).pttl(key).exec());
    const [[getError, text], [pttlError, pttl]] = replies ?? [
      [null, null],
      [null, -2],
    ];
    const error = getError ?? pttlError;
    if (error) {
      // A key of another type is bad data; anything else (LOADING, CLUSTERDOWN, …) is an outage.
      if (!/^WRONGTYPE/.test(error.message)) throw error;
      this.log('warn', `Legacy session ${logId} is not a string key; starting fresh`);
      return 'corrupt';
    }
    if (text === null || pttl === -2) return null;
    return { text: text as string, pttl: pttl as number };
  }

  private async deleteLegacy(key: string): Promise<void> {
    if (!this.options.keep) await this.bounded(this.client.del(key));
  }

  private bounded<T>(operation: Promise<T>): Promise<T> {
    const ms = this.extras.commandTimeoutMs;
    if (ms === undefined) return operation;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
    });
    return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
  }
}
