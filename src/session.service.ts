import { Inject, Injectable } from '@nestjs/common';
import { MAX_FLASH_MESSAGES } from './redis-session.constants.js';
import { MESSAGES } from './session.errors.js';
import { applyTimeout, persistSessionCookie } from './session/session-meta.js';
import { isUserId } from './users/user-key.js';
import { SESSION_MANAGER } from './redis-session.providers.js';
import { parse as parseCookie, serialize as serializeCookie } from 'cookie';
import { SOCKET_HANDSHAKE } from './http/execution-context.js';
import { appendRawSetCookie } from './http/node-response.js';
import { EXTRA_COOKIES, rawRequest, rawResponseOf, secureFor } from './http/session-slot.js';
import { anonymousToken, maskToken } from './security/csrf-token.js';
import { randomToken } from './security/cookie-signature.util.js';
import type { SessionData } from './session-data.interface.js';
import { SESSION_STATE, SYSTEM, stateOf, type UserId } from './session/session-state.js';
import type { SessionEventListener } from './users/session-events.js';
import { SessionManager } from './session/session.manager.js';

/** One live session of a user, as `userSessions` lists it. @publicApi */
export interface UserSessionInfo {
  /** Derived from the id by a keyed hash: safe to show and to send back to `revokeSession`. */
  handle: string;
  /** When the session was signed in to this user (ms since epoch). */
  createdAt: number;
  /** When it was last seen (ms since epoch), at a granularity of a minute. */
  lastSeenAt: number;
  userAgent?: string;
  ip?: string;
  /** Whether it is the session passed as `current`. */
  current: boolean;
}

/** Paging of `userSessions`. @publicApi */
export interface UserSessionsPage {
  /** Entries to skip. @default 0 */
  offset?: number;
  /** Most entries to return. @default 100 */
  limit?: number;
}

function checkUserId(userId: unknown, allowNull = false): asserts userId is UserId {
  if (!isUserId(userId) && !(allowNull && userId === null)) {
    throw new TypeError(
      `A user id must be a non-empty string or a finite number${allowNull ? ' (or null to unbind)' : ''}, got ${typeof userId === 'object' ? JSON.stringify(userId) : String(userId)}`,
    );
  }
}

const META_CREATED = '$c';
/** How long an anonymous form's CSRF nonce cookie lives. */
const ANONYMOUS_CSRF_SECONDS = 3600;

/** The nonce cookie of anonymous CSRF tokens, named after the session cookie. @internal */
export function anonymousCookieName(sessionCookie: string): string {
  return `${sessionCookie}.csrf`;
}

/**
 * Everything an application does with sessions beyond reading and writing keys. Methods that take
 * a session act on the current request's session and take effect when it commits, at the end of
 * the request; `load`, `destroy` and `exists` talk to the store.
 * @publicApi
 */
@Injectable()
export class SessionService {
  constructor(@Inject(SESSION_MANAGER) private readonly manager: SessionManager) {}

  /**
   * The request's session, loaded at most once per request: a guard or middleware gets the same
   * object the handler's `@Session()` gets. Accepts an Express, Fastify or raw Node request.
   * @throws SessionStoreUnavailableException (503) when the store does not answer in time.
   */
  load(request: object): Promise<SessionData> {
    return this.manager.load(request);
  }

  /**
   * From now on this session's idle timeout is `seconds` (persisted with the session, visible as
   * its TTL), never past the absolute deadline. `0` ends the session at commit. Fractions are
   * honoured to the millisecond (rounded up).
   * @throws RangeError for NaN, negative or infinite values.
   */
  adjustTimeout(session: SessionData, seconds: number): void {
    applyTimeout(stateOf(session), seconds);
  }

  /**
   * "Remember me": the session's cookie outlives the browser. Its Max-Age is the session's idle
   * timeout (`timeout`, or what `adjustTimeout` set), it is sent again as the session slides, and
   * never lasts past the absolute deadline. Persisted with the session; `false` goes back to the
   * configured cookie (a browser-session cookie unless `cookie_max_age` is set). Call it after
   * login: a regenerate by passport starts from an empty session.
   * @example this.sessions.adjustTimeout(session, 30 * 86400); this.sessions.persistCookie(session);
   */
  persistCookie(session: SessionData, persistent = true): void {
    persistSessionCookie(stateOf(session), persistent);
  }

  /**
   * Ends the session: its key is deleted and the cookie expired at commit. Writes after this call
   * in the same request start a new session with a new id.
   */
  invalidate(session: SessionData): void {
    const { lifecycle } = this.manager;
    const now = Date.now();
    stateOf(session).restart(lifecycle.newId(), now, lifecycle.deadlineFrom(now));
  }

  /**
   * Moves the session to a new id, keeping its data (call it at login, against fixation). The old
   * id is dead once the request commits; the CSRF token, if any, is rotated too.
   */
  regenerate(session: SessionData): void {
    const state = stateOf(session);
    // Saved under the old id, a login would log in whoever planted that cookie: refuse it here,
    // where the handler hears of it, rather than drop it at the commit.
    if (state.messageScoped) throw new Error(MESSAGES.noCookieForNewId);
    state.rotate(this.manager.lifecycle.newId());
    if (state.system.has(SYSTEM.csrf)) {
      state.system.set(SYSTEM.csrf, randomToken());
      state.csrfRotated = true;
    }
  }

  /** The session id (the part of the cookie before the signature). */
  getId(session: SessionData): string {
    return stateOf(session).id;
  }

  /** Whether the session did not exist before this request. */
  isNew(session: SessionData): boolean {
    return stateOf(session).isNew;
  }

  /** Queues a flash message (any JSON value) for a later request. */
  flash(session: SessionData, message: unknown, queue = '', allowDuplicate = true): void {
    const state = stateOf(session);
    const field = SYSTEM.flash(queue);
    let messages = state.system.get(field) as unknown[] | undefined;
    if (messages === undefined) state.system.set(field, (messages = []));
    if (!allowDuplicate) {
      const text = JSON.stringify(message);
      if (messages.some((m) => JSON.stringify(m) === text)) return;
    }
    // In place: the stored form is in the snapshot, so the delta still sees the change, and a
    // loop of flash() calls stays linear. The queue is capped, oldest first out.
    messages.push(message);
    if (messages.length > MAX_FLASH_MESSAGES)
      messages.splice(0, messages.length - MAX_FLASH_MESSAGES);
  }

  /** The queued flash messages, left in place. */
  peekFlash<T = unknown>(session: SessionData, queue = ''): T[] {
    const messages = stateOf(session).system.get(SYSTEM.flash(queue)) as T[] | undefined;
    return messages ? [...messages] : [];
  }

  /** The queued flash messages, removed (the removal is committed with the request). */
  popFlash<T = unknown>(session: SessionData, queue = ''): T[] {
    const state = stateOf(session);
    const field = SYSTEM.flash(queue);
    const messages = state.system.get(field) as T[] | undefined;
    state.system.delete(field);
    return messages ?? [];
  }

  /** Makes and stores a new CSRF token (256 bits), replacing any previous one. */
  newCsrfToken(session: SessionData): string {
    const token = randomToken();
    const state = stateOf(session);
    state.system.set(SYSTEM.csrf, token);
    state.csrfRotated = true;
    return token;
  }

  /** The session's CSRF token, made on first use. */
  getCsrfToken(session: SessionData): string {
    const state = stateOf(session);
    const token = state.system.get(SYSTEM.csrf);
    if (typeof token === 'string') return token;
    // A first token is no identity change: a login form's token must survive a wrong password.
    const first = randomToken();
    state.system.set(SYSTEM.csrf, first);
    return first;
  }

  /**
   * Binds the session to a user (taking effect at commit), with the client's user agent and IP
   * as metadata, so `userSessions` lists it and `revokeUserSessions` can end it. `null` unbinds.
   * Regenerate keeps the binding; invalidate and destroy end it. An identity change: dropped if
   * the request fails.
   * @throws TypeError for a user id that is not a non-empty string or a finite number.
   */
  setUser(session: SessionData, userId: UserId | null): void {
    checkUserId(userId, true);
    this.manager.lifecycle.setUser(stateOf(session), userId);
  }

  /**
   * The session's handle, as `userSessions` lists it: to mark or skip this session in a device
   * list (revoking one's own session from its own request ends it under the request's feet).
   */
  getHandle(session: SessionData): string {
    return this.manager.lifecycle.handleOf(stateOf(session).id);
  }

  /**
   * The user the session is bound to, or `undefined`; with `user_key`, the id the key holds as
   * soon as it is written (the binding follows at commit).
   */
  getUser(session: SessionData): UserId | undefined {
    return this.manager.lifecycle.userOf(stateOf(session));
  }

  /**
   * Logs the session in as `userId`, in one call that cannot be half done: a new id (against
   * fixation: a planted cookie never becomes logged in), the user binding, and a new CSRF token.
   * Like every identity change, all of it is dropped if the request fails.
   */
  login(session: SessionData, userId: UserId): void {
    checkUserId(userId);
    this.regenerate(session);
    this.setUser(session, userId);
    this.newCsrfToken(session);
  }

  /**
   * The user's live sessions, oldest first, with their metadata; entries of ended sessions are
   * pruned on the way. Never reveals an id: each carries a derived `handle`.
   */
  async userSessions(
    userId: UserId,
    current?: SessionData,
    page: UserSessionsPage = {},
  ): Promise<UserSessionInfo[]> {
    checkUserId(userId);
    const { lifecycle } = this.manager;
    const entries = await this.indexed(userId, [
      META_CREATED,
      SYSTEM.lastSeen,
      SYSTEM.userAgent,
      SYSTEM.ip,
      SYSTEM.signedIn,
    ]);
    const currentId = current === undefined ? undefined : lifecycle.storeIdOf(stateOf(current).id);
    const parse = (text: string | null) => (text === null ? undefined : JSON.parse(text));
    const list = entries.map(({ id, values: [stored, seen, agent, ip, signedIn] }) => {
      // Signed in: when the session was bound to the user (a session kept across login would
      // otherwise show when the visitor first came).
      const created = signedIn === null ? stored : String(parse(signedIn));
      const info: UserSessionInfo = {
        handle: lifecycle.handleOf(id),
        createdAt: Number(created),
        // Creation is stamped by the store's clock, last-seen by the app's: never show it earlier.
        lastSeenAt: Math.max(Number(parse(seen) ?? created), Number(created)),
        current: id === currentId,
      };
      if (agent !== null) info.userAgent = parse(agent);
      if (ip !== null) info.ip = parse(ip);
      return info;
    });
    list.sort((a, b) => a.createdAt - b.createdAt);
    const offset = Math.max(0, page.offset ?? 0);
    return list.slice(offset, offset + Math.max(0, page.limit ?? 100));
  }

  /**
   * Ends the session with that handle, if it belongs to that user: its next request is
   * anonymous. Resolves whether a session was ended (false for another user's handle).
   */
  async revokeSession(userId: UserId, handle: string): Promise<boolean> {
    checkUserId(userId);
    const { lifecycle, store } = this.manager;
    const entry = (await this.indexed(userId, [])).find(
      ({ id }) => lifecycle.handleOf(id) === handle,
    );
    if (entry === undefined) return false;
    const ended = await this.guard(store.destroy(entry.id));
    await this.guard(store.indexRemove?.(String(userId), [entry.id]) ?? Promise.resolve());
    if (ended) lifecycle.emit('session.destroyed', entry.id, userId);
    return ended;
  }

  /**
   * Ends every session of the user but `except` (this device, say): after a password change,
   * or "sign out everywhere else". Resolves how many were ended.
   */
  async revokeUserSessions(
    userId: UserId,
    options: { except?: SessionData } = {},
  ): Promise<number> {
    checkUserId(userId);
    const { lifecycle, store } = this.manager;
    const keep =
      options.except === undefined ? undefined : lifecycle.storeIdOf(stateOf(options.except).id);
    const ids = (await this.indexed(userId, [])).map(({ id }) => id).filter((id) => id !== keep);
    // All at once: on Cluster each DEL goes to its own node in parallel.
    const results = await this.guard(Promise.all(ids.map((id) => store.destroy(id))));
    let ended = 0;
    results.forEach((existed, i) => {
      if (!existed) return;
      ended++;
      lifecycle.emit('session.destroyed', ids[i], userId);
    });
    await this.guard(store.indexRemove?.(String(userId), ids) ?? Promise.resolve());
    return ended;
  }

  /**
   * Listens to session events (`session.created`, `session.regenerated`, `session.destroyed`,
   * `session.expired`); returns the function that stops listening. A listener that throws is
   * logged and never breaks a request.
   */
  onEvent(listener: SessionEventListener): () => void {
    return this.manager.lifecycle.events.on(listener);
  }

  /**
   * The session's CSRF token (made on first use) masked for this response: a different string
   * every time, all of which `CsrfGuard` accepts. Put this one in pages, so compression-based
   * attacks (BREACH) cannot read the token.
   */
  maskedCsrfToken(session: SessionData): string {
    return maskToken(this.getCsrfToken(session));
  }

  /**
   * A CSRF token for a form shown to a visitor without a session (a login form), bound to a
   * short-lived nonce cookie set on this response instead of to a session, so showing the form
   * stores nothing in Redis. `CsrfGuard` accepts it while the nonce cookie lives (1 hour); use
   * the session's token once there is a session.
   */
  anonymousCsrfToken(request: object): string {
    const { config } = this.manager;
    const raw = rawRequest(request);
    const name = anonymousCookieName(config.cookieName);
    let nonce = parseCookie(String(raw.headers?.cookie ?? ''))[name];
    if (nonce === undefined || !/^[A-Za-z0-9_-]{43}$/.test(nonce)) {
      nonce = randomToken();
      const response = rawResponseOf(raw);
      const header = serializeCookie(name, nonce, {
        httpOnly: true,
        sameSite: 'lax',
        path: config.cookieAttributes.path ?? '/',
        secure: secureFor(config.cookieSecure, request),
        maxAge: ANONYMOUS_CSRF_SECONDS,
      });
      // Express reaches its response from the request; on Fastify the onSend hook adds it.
      if (response !== undefined && !response.headersSent) appendRawSetCookie(response, [header]);
      else (raw[EXTRA_COOKIES] ??= []).push(header);
    }
    return maskToken(anonymousToken(nonce, config.secretKeys[0]));
  }

  /** Deletes a session by id (administration); resolves whether it existed. */
  async destroy(id: string): Promise<boolean> {
    const { lifecycle, store } = this.manager;
    // Read first, so the event names the user and that user's list drops it now.
    const owner = await this.guard(lifecycle.ownerOf(id));
    const ended = await this.guard(store.destroy(id));
    if (ended && owner.bound !== undefined)
      await this.guard(store.indexRemove?.(String(owner.bound), [id]) ?? Promise.resolve());
    if (ended) lifecycle.emit('session.destroyed', id, owner.user);
    return ended;
  }

  /** Whether a live session exists under `id`. */
  exists(id: string): Promise<boolean> {
    return this.guard(this.manager.store.exists(id));
  }

  /**
   * Every live session id in this namespace (SCAN, never KEYS). While Redis is down or hung the
   * iteration rejects with `SessionStoreUnavailableException` (503), as the other methods do.
   */
  async *ids(): AsyncIterable<string> {
    const iterator = this.manager.store.ids()[Symbol.asyncIterator]();
    for (;;) {
      const next = await this.guard(iterator.next());
      if (next.done) return;
      yield next.value;
    }
  }

  /**
   * Links a `ws` socket to its upgrade request, so `@Session()` works in its message handlers
   * (socket.io keeps the handshake itself: nothing to do there). Call it in `handleConnection`.
   * @example handleConnection(client: WebSocket, request: IncomingMessage) { this.sessions.bindSocket(client, request); }
   */
  bindSocket(client: object, request: { headers: object }): void {
    Object.defineProperty(client, SOCKET_HANDSHAKE, { value: request, configurable: true });
  }

  /** Whether a value is a session object given by this library. */
  isSession(value: unknown): value is SessionData {
    return typeof value === 'object' && value !== null && SESSION_STATE in value;
  }

  /**
   * The user's index entries still bound to that user, with the given fields (decrypted when
   * encryption at rest is on); entries bound to nobody or to someone else are left out.
   */
  private async indexed(
    userId: UserId,
    fields: string[],
  ): Promise<{ id: string; values: (string | null)[] }[]> {
    const { store, config } = this.manager;
    const wanted = [SYSTEM.user, ...fields];
    const entries = await this.guard(
      store.indexList?.(String(userId), wanted) ?? Promise.resolve([]),
    );
    const { cipher } = config;
    const bound: { id: string; values: (string | null)[] }[] = [];
    for (const { id, values } of entries) {
      let plain = values;
      if (cipher !== undefined) {
        try {
          plain = values.map((v, i) => (v === null ? v : cipher.decrypt(wanted[i], v)));
        } catch {
          // Unreadable (an unknown key, tampered): not listed, as a load would not accept it.
          continue;
        }
      }
      const [user, ...rest] = plain;
      if (user !== null && String(JSON.parse(user)) === String(userId))
        bound.push({ id, values: rest });
    }
    return bound;
  }

  private async guard<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (error) {
      throw this.manager.lifecycle.unavailable(error);
    }
  }
}
