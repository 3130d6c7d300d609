import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { SessionConfig } from '../config/session-config.js';
import { isMessageScope } from '../http/execution-context.js';
import { hasGraphqlErrors } from '../http/graphql-errors.js';
import { GENERIC_500, holdNodeResponse, type BoundaryOutcome } from '../http/node-response.js';
import {
  isGraphqlRequest,
  rawRequest,
  rawResponseOf,
  secureFor,
  setSlot,
  slotOf,
  slotOfRaw,
  type SessionSlot,
} from '../http/session-slot.js';
import { SESSION_CONFIG, SESSION_STORE_IN_USE } from '../redis-session.providers.js';
import { HashedKeyStore } from '../store/hashed-key.store.js';
import { SessionCookies } from '../security/session-cookie.js';
import type { SessionData } from '../session-data.interface.js';
import { SessionStoreUnavailableException } from '../session.errors.js';
import type { SessionStore } from '../store/session-store.interface.js';
import { LegacySessionImporter } from '../legacy/legacy-session.importer.js';
import { RedisSessionStore } from '../store/redis-session.store.js';
import { reviveSession } from './session-codec.js';
import { SessionLifecycle, type CookieAction } from './session-lifecycle.js';
import { persistentCookieSeconds } from './session-meta.js';
import type { SessionState } from './session-state.js';

const NOTHING: BoundaryOutcome = { cookies: [], headers: [] };
const NO_COOKIES: string[] = [];

// Built once: every committed response carries one of these two lists.
const SESSION_HEADERS: [string, string][] = [['vary', 'Cookie']];
const SET_COOKIE_HEADERS: [string, string][] = [...SESSION_HEADERS, ['cache-control', 'no-store']];
// The one outcome of a read-only request, shared: nothing in it is ever mutated.
const UNCHANGED: BoundaryOutcome = { cookies: NO_COOKIES, headers: SESSION_HEADERS };

/**
 * What a committed response carries. A response built from a session differs per cookie: shared
 * caches must not mix them up, and one that sets the cookie must never be stored and replayed to
 * someone else.
 */
function outcomeOf(cookies: string[]): BoundaryOutcome {
  if (cookies.length === 0) return UNCHANGED;
  return { cookies, headers: SET_COOKIE_HEADERS };
}

/** The raw Node response of a platform response (Fastify's reply), if it has one. */
function rawOf(response: object | undefined): ServerResponse | undefined {
  const raw = (response as { raw?: ServerResponse } | undefined)?.raw;
  return raw !== undefined && typeof raw.writeHead === 'function' ? raw : undefined;
}

/**
 * The client's user agent and IP, as the platform gives them: Express's `req.ip` and Fastify's
 * `request.ip` honour the app's trust-proxy setting; a raw request only knows its socket.
 */
function clientOf(request: object): { userAgent?: string; ip?: string } {
  const req = request as {
    ip?: unknown;
    headers?: Record<string, unknown>;
    socket?: { remoteAddress?: string };
  };
  const raw = rawRequest(request);
  const agent = (req.headers ?? raw.headers)?.['user-agent'];
  const ip = typeof req.ip === 'string' ? req.ip : raw.socket?.remoteAddress;
  return { userAgent: typeof agent === 'string' ? agent : undefined, ip };
}

/**
 * The request path: resolves the cookie, loads lazily (once per request), holds the response,
 * and commits once at the response boundary. Internal; applications use `SessionService`.
 * @internal
 */
@Injectable()
export class SessionManager {
  readonly cookies: SessionCookies;
  /** Moves express-session / @fastify/session sessions over, when `legacy` is configured. */
  private readonly legacy: LegacySessionImporter | undefined;

  constructor(
    @Inject(SESSION_CONFIG) readonly config: SessionConfig,
    @Inject(SESSION_STORE_IN_USE) readonly store: SessionStore,
    readonly lifecycle: SessionLifecycle,
  ) {
    this.cookies = new SessionCookies(config);
    const redis = store instanceof HashedKeyStore ? store.inner : store;
    if (config.legacy !== undefined && redis instanceof RedisSessionStore) {
      const { logger } = lifecycle;
      this.legacy = new LegacySessionImporter(
        config.legacy,
        redis.client,
        store,
        config.secretKeys[0],
        config.timeoutSeconds * 1000,
        (level, message) => logger[level](message),
        {
          absoluteTimeoutMs: config.absoluteTimeoutMs,
          serialize: (value) => config.serializer.serialize(value),
          commandTimeoutMs: config.socketTimeoutMs,
          encryptPairs: config.cipher && ((pairs) => config.cipher!.encryptPairs(pairs)),
        },
      );
    }
  }

  /**
   * The request's session, loaded at most once per request; holds its raw response until the
   * commit: Express's is reached from the request, Fastify's comes with the context (and its
   * `onSend` hook commits whatever loaded the session).
   */
  load(request: object, response?: object): Promise<SessionData> {
    const raw = rawRequest(request);
    const existing = slotOfRaw(raw);
    if (existing !== undefined) return existing.promise;
    const slot = {} as SessionSlot;
    setSlot(raw, slot);
    const held = rawResponseOf(raw) ?? rawOf(response);
    if (held !== undefined) {
      holdNodeResponse(
        held,
        (headersLeft, status, body) => this.commitAtBoundary(request, headersLeft, status, body),
        () => slot.committed === true,
      );
    }
    slot.promise = this.resolve(raw.headers?.cookie as string | undefined).then((state) => {
      slot.state = state;
      state.client = () => clientOf(request);
      if (isMessageScope(raw)) state.messageScoped = true;
      return state.data;
    });
    return slot.promise;
  }

  private resolve(header: string | undefined): Promise<SessionState> {
    const verdict = this.cookies.verify(header);
    if (verdict === 'ambiguous') {
      this.lifecycle.logger.warn(
        'Two different signed session cookies in one request: starting a fresh session',
      );
      return Promise.resolve(this.lifecycle.fresh());
    }
    // Only a request without a valid cookie of ours can carry a session still to be moved.
    if (verdict === null && this.legacy !== undefined) return this.adoptLegacy(header);
    return this.lifecycle.load(verdict);
  }

  /** A legacy session moved into ours under a new id (our cookie set, the old one cleared). */
  private async adoptLegacy(header: string | undefined): Promise<SessionState> {
    let adopted: Awaited<ReturnType<LegacySessionImporter['resolve']>>;
    try {
      adopted = await this.legacy!.resolve(header);
    } catch (error) {
      throw this.lifecycle.unavailable(error);
    }
    if (adopted === null) return this.lifecycle.fresh();
    if ('gone' in adopted) {
      const state = this.lifecycle.fresh();
      state.extraCookies.push(adopted.clearCookie);
      return state;
    }
    try {
      // A session moved earlier may have been written since, encrypted if that is on.
      const state = reviveSession(
        adopted.id,
        this.lifecycle.decrypt(adopted.fields),
        this.config.serializer,
        this.config.maxSize,
      );
      state.resign = true;
      state.extraCookies.push(adopted.clearCookie);
      return state;
    } catch {
      return this.lifecycle.fresh();
    }
  }

  /**
   * Commits the request's session once, and returns the Set-Cookie values to send; throws what
   * the commit threw (a 503 when the store is down, a 500 for a value that cannot be stored).
   * @param headersLeft the headers already went out: no new session is created then.
   */
  async commit(request: object, status = 200, headersLeft = false): Promise<string[]> {
    return this.commitNow(request, status, headersLeft);
  }

  /**
   * The commit, synchronous when it can be: the load finished and nothing needs writing (a
   * read-only request) gives the cookies at once, with no promise on the way.
   */
  private commitNow(
    request: object,
    status: number,
    headersLeft: boolean,
  ): string[] | Promise<string[]> {
    const slot = slotOf(request);
    if (slot === undefined || slot.committed) return [];
    slot.committed = true;
    const { state } = slot;
    if (state !== undefined) return this.persist(request, slot, state, status, headersLeft);
    // Still loading (the response went out before the handler awaited it), or the load failed.
    return slot.promise.then(
      () => this.persist(request, slot, slot.state!, status, headersLeft),
      () => [],
    );
  }

  private persist(
    request: object,
    slot: SessionSlot,
    state: SessionState,
    status: number,
    headersLeft: boolean,
  ): string[] | Promise<string[]> {
    const failed = slot.failed === true || status >= 400;
    if (failed && !this.config.cookieOnException) return [];
    const action = this.lifecycle.persist(state, { failed, canSetCookie: !headersLeft });
    if (typeof action === 'string') return this.cookiesFor(request, state, action);
    return action.then((done) => this.cookiesFor(request, state, done));
  }

  private cookiesFor(request: object, state: SessionState, action: CookieAction): string[] {
    if (action === 'none' && state.extraCookies.length === 0) return NO_COOKIES;
    const secure = secureFor(this.config.cookieSecure, request);
    const cookies = [...state.extraCookies];
    if (action === 'set') {
      const persistFor = persistentCookieSeconds(state, this.config.timeoutSeconds);
      cookies.push(this.cookies.set(state.id, secure, state.deadline, persistFor));
    } else if (action === 'clear') cookies.push(this.cookies.clear(secure));
    return cookies;
  }

  /**
   * The commit as the response boundary runs it: a failure on a response that was going to
   * succeed replaces it (503, or a generic 500); a failure while the handler's own error is on
   * its way is logged and the handler's status stands. Synchronous when the commit is.
   */
  commitAtBoundary(
    request: object,
    headersLeft: boolean,
    status: number,
    /** The response body's last chunk: a GraphQL answer's errors mark the request failed. */
    body?: unknown,
  ): BoundaryOutcome | Promise<BoundaryOutcome> {
    const slot = slotOf(request);
    if (slot === undefined || slot.committed) return NOTHING;
    if (slot.failed !== true && isGraphqlRequest(request) && hasGraphqlErrors(body))
      slot.failed = true;
    let cookies: string[] | Promise<string[]>;
    try {
      cookies = this.commitNow(request, status, headersLeft);
    } catch (error) {
      return this.failedCommit(error, status);
    }
    if (Array.isArray(cookies)) return outcomeOf(cookies);
    return cookies.then(outcomeOf, (error) => this.failedCommit(error, status));
  }

  private failedCommit(error: unknown, status: number): BoundaryOutcome {
    if (!(error instanceof SessionStoreUnavailableException)) {
      this.lifecycle.logger.error((error as Error)?.message ?? String(error));
    }
    if (status >= 400) return NOTHING;
    if (error instanceof SessionStoreUnavailableException) {
      return {
        cookies: [],
        headers: [],
        replace: {
          status: HttpStatus.SERVICE_UNAVAILABLE,
          body: JSON.stringify(error.getResponse()),
        },
      };
    }
    return { cookies: [], headers: [], replace: { status: 500, body: GENERIC_500 } };
  }
}
