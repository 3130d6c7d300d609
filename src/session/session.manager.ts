import { Inject, Injectable, Logger } from '@nestjs/common';
import { parse, serialize } from 'cookie';
import {
  SESSION_ID_PATTERN,
  idForLog,
  signSessionId,
  verifySessionCookie,
  type VerifiedId,
} from '../security/cookie-signature.util.js';
import { SESSION_CONFIG } from '../redis-session.providers.js';
import type { SessionConfig } from '../config/session-config.js';
import type { SessionData } from '../session-data.interface.js';
import {
  SESSION_SLOT,
  appendSetCookie,
  headersSent,
  isHttps,
  rawRequest,
  slotOf,
  type SessionSlot,
} from '../http/session-request.util.js';
import { reviveSession, sessionDelta, type Delta } from './session-codec.js';
import { META, SessionState } from './session-state.js';
import { SessionStore } from '../store/session-store.interface.js';
import { CorruptSessionError, SessionStoreUnavailableException } from '../session.errors.js';

const QUIET_MS = 5000;
/** Verified cookie values remembered, so a returning client costs a Map lookup instead of an HMAC. */
const VERIFIED_CACHE_SIZE = 10_000;

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The request path: resolves the cookie, loads lazily (once per request), and commits the delta.
 * Internal; applications use `SessionService`.
 * @internal
 */
@Injectable()
export class SessionManager {
  private readonly logger = new Logger('RedisSession');
  private lastOutageLog = 0;
  private suppressed = 0;
  private readonly verified = new Map<string, VerifiedId>();

  constructor(
    @Inject(SESSION_CONFIG) readonly config: SessionConfig,
    @Inject(SessionStore) readonly store: SessionStore,
  ) {}

  /** The request's session, loaded at most once per request. */
  load(request: object): Promise<SessionData> {
    const raw = rawRequest(request);
    const existing = raw[SESSION_SLOT];
    if (existing) return existing.promise;
    const slot = {} as SessionSlot;
    slot.promise = this.resolve(raw.headers.cookie).then((state) => {
      slot.state = state;
      return state.data;
    });
    raw[SESSION_SLOT] = slot;
    return slot.promise;
  }

  /** A new, empty, unsaved session with a server-made id. */
  fresh(): SessionState {
    const now = Date.now();
    return new SessionState(this.newId(), {}, now, this.deadlineFrom(now));
  }

  /** The absolute deadline of a session created at `now`, if there is one. */
  deadlineFrom(now: number): number | undefined {
    const { absoluteTimeoutMs } = this.config;
    return absoluteTimeoutMs === undefined ? undefined : now + absoluteTimeoutMs;
  }

  newId(): string {
    const id = this.config.idGenerator();
    // A custom generator must still make ids the cookie parser accepts, or sessions would never load.
    if (typeof id !== 'string' || !SESSION_ID_PATTERN.test(id)) {
      throw new TypeError('idGenerator must return 22 to 256 characters of [A-Za-z0-9_-]');
    }
    return id;
  }

  /**
   * The verified id the Cookie header carries, or null. Two different validly signed session
   * cookies (one tossed in from a sibling subdomain, say) are ambiguous: neither is trusted.
   */
  private verifiedCookie(header: string | undefined): VerifiedId | null {
    if (header === undefined) return null;
    const { cookieName } = this.config;
    const value = parse(header)[cookieName];
    if (value === undefined) return null;
    // Fast path: the name occurs once. Otherwise look at every cookie of that name.
    if (header.indexOf(`${cookieName}=`, header.indexOf(`${cookieName}=`) + 1) === -1) {
      return this.verifyOne(value);
    }
    let chosen: VerifiedId | null = null;
    for (const part of header.split(';')) {
      const pair = part.trim();
      if (!pair.startsWith(`${cookieName}=`)) continue;
      const candidate = this.verifyOne(safeDecode(pair.slice(cookieName.length + 1)));
      if (candidate === null) continue;
      if (chosen !== null && chosen.id !== candidate.id) {
        this.logger.warn(
          'Two different signed session cookies in one request: starting a fresh session',
        );
        return null;
      }
      chosen = candidate;
    }
    return chosen;
  }

  /**
   * Verifies one cookie value, remembering values that verified. Only exact values that carried a
   * valid MAC are cached, so the cache can be neither forged nor steered; it is cleared when full.
   */
  private verifyOne(value: string): VerifiedId | null {
    const cached = this.verified.get(value);
    if (cached !== undefined) return cached;
    const result = verifySessionCookie(value, this.config.secretKeys);
    if (result !== null) {
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
      this.verified.set(value, result);
    }
    return result;
  }

  private async resolve(header: string | undefined): Promise<SessionState> {
    const verified = this.verifiedCookie(header);
    if (verified === null) return this.fresh();
    let fields: Map<string, string> | null;
    try {
      fields = await this.store.load(verified.id, this.config.timeoutSeconds * 1000, Date.now());
    } catch (error) {
      if (error instanceof CorruptSessionError) return this.startOver(verified.id, error);
      throw this.unavailable(error);
    }
    if (fields === null) {
      // Expired, destroyed, or never issued here: strict mode never adopts the presented id.
      this.logger.debug(
        `Session cookie names no live session (${this.logId(verified.id)}); starting a fresh session`,
      );
      return this.fresh();
    }
    try {
      const state = reviveSession(verified.id, fields, this.config.serializer);
      state.resign = verified.secretIndex > 0;
      return state;
    } catch (error) {
      return this.startOver(verified.id, error);
    }
  }

  /** Stored data that is not a session (wrong type, bad JSON, no meta): logged, then a fresh session. */
  private startOver(id: string, error: Error): SessionState {
    this.logger.warn(
      `Corrupt session data (session ${this.logId(id)}): ${error.message}; starting a fresh session`,
    );
    return this.fresh();
  }

  private ttlOf(state: SessionState, now: number): number {
    const idle = (state.timeout ?? this.config.timeoutSeconds) * 1000;
    return state.deadline === undefined ? idle : Math.min(idle, state.deadline - now);
  }

  /**
   * Persists what the request changed and sets or clears the cookie, before the response leaves.
   * Runs at most once per request.
   */
  async commit(request: object, response: object): Promise<void> {
    const slot = slotOf(request);
    const state = slot?.state;
    if (!slot || !state || slot.committed) return;
    slot.committed = true;
    let delta: Delta;
    try {
      delta = sessionDelta(state, this.config.serializer, this.config.maxSize, !state.persisted);
    } catch (error) {
      // Nest does not log HttpExceptions, and a 500 nobody can trace is worse than a log line.
      this.logger.error(error.message);
      throw error;
    }
    let cookie: 'set' | 'clear' | undefined;
    try {
      cookie = await this.write(state, delta);
    } catch (error) {
      throw error instanceof SessionStoreUnavailableException ? error : this.unavailable(error);
    }
    if (cookie === undefined) return;
    if (headersSent(response)) {
      this.logger.warn(
        'The response was sent before the session committed (a handler using @Res()?): cookie not set',
      );
      return;
    }
    appendSetCookie(
      response,
      this.cookieHeader(request, cookie === 'set' ? state.id : undefined, state.deadline),
    );
  }

  private async write(state: SessionState, delta: Delta): Promise<'set' | 'clear' | undefined> {
    const { store } = this;
    const now = Date.now();
    const ttl = this.ttlOf(state, now);
    const discarded = state.discarded.map((id) => store.destroy(id));
    try {
      const ending = state.expireNow || ttl <= 0;
      if (ending) {
        if (state.persisted) await store.destroy(state.id);
        if (state.predecessor !== null) await store.destroy(state.predecessor);
        return state.loadedId ? 'clear' : undefined;
      }
      if (!state.persisted) {
        if (delta.empty && state.predecessor === null) return state.loadedId ? 'clear' : undefined;
        // Regenerate: the old id must be dead before the new one lives; if a concurrent logout
        // already deleted it, the new one is not created (no resurrection under a new name).
        if (state.predecessor !== null && !(await store.destroy(state.predecessor))) return 'clear';
        await this.create(state, delta, ttl);
        return 'set';
      }
      if (delta.set.length > 0 || delta.remove.length > 0 || state.timeoutChanged) {
        const set = state.timeoutChanged
          ? [...delta.set, META.timeout, String(state.timeout)]
          : delta.set;
        if (!(await store.update(state.id, set, delta.remove, ttl))) return 'clear';
      }
      return state.resign || this.config.cookieMaxAge !== undefined ? 'set' : undefined;
    } finally {
      await Promise.all(discarded);
    }
  }

  private async create(state: SessionState, delta: Delta, ttl: number): Promise<void> {
    const meta = [META.created, String(state.created)];
    if (state.deadline !== undefined) meta.push(META.deadline, String(state.deadline));
    if (state.timeout !== undefined) meta.push(META.timeout, String(state.timeout));
    const fields = [...meta, ...delta.all];
    // 256-bit ids do not collide in practice; if one ever does, the existing session is left alone.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.store.create(state.id, fields, ttl)) {
        state.persisted = true;
        return;
      }
      state.id = this.newId();
    }
    throw new Error('Could not find a free session id');
  }

  /** Max-Age, never past the absolute deadline: a cookie outliving its session only confuses clients. */
  private cookieMaxAge(deadline: number | undefined): number | undefined {
    const { cookieMaxAge } = this.config;
    if (cookieMaxAge === undefined || deadline === undefined) return cookieMaxAge;
    return Math.max(0, Math.min(cookieMaxAge, Math.floor((deadline - Date.now()) / 1000)));
  }

  private cookieHeader(request: object, id: string | undefined, deadline?: number): string {
    const { config } = this;
    const secure = config.cookieSecure === 'auto' ? isHttps(request) : config.cookieSecure;
    if (id === undefined) {
      return serialize(config.cookieName, '', {
        ...config.cookieAttributes,
        secure,
        maxAge: 0,
        expires: new Date(0),
      });
    }
    return serialize(config.cookieName, signSessionId(id, config.secretKeys[0]), {
      ...config.cookieAttributes,
      secure,
      maxAge: this.cookieMaxAge(deadline),
    });
  }

  /** A salted digest of an id, safe for logs. */
  logId(id: string): string {
    return idForLog(id, this.config.secretKeys[0].export());
  }

  /** Logs a store failure (at most once per few seconds during an outage) and maps it to a 503. */
  unavailable(error: unknown): SessionStoreUnavailableException {
    const now = Date.now();
    if (now - this.lastOutageLog >= QUIET_MS) {
      const more = this.suppressed > 0 ? ` (${this.suppressed} similar errors not logged)` : '';
      this.logger.error(`Session store unavailable: ${(error as Error)?.message ?? error}${more}`);
      this.lastOutageLog = now;
      this.suppressed = 0;
    } else {
      this.suppressed++;
    }
    return new SessionStoreUnavailableException(error);
  }
}
