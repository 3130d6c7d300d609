import { Inject, Injectable, Logger } from '@nestjs/common';
import type { SessionConfig } from '../config/session-config.js';
import { SESSION_CONFIG, SESSION_STORE_IN_USE } from '../redis-session.providers.js';
import { HashedKeyStore } from '../store/hashed-key.store.js';
import {
  SESSION_ID_PATTERN,
  idForLog,
  type VerifiedId,
} from '../security/cookie-signature.util.js';
import { CorruptSessionError, SessionStoreUnavailableException } from '../session.errors.js';
import type { SessionStore, SessionTouch } from '../store/session-store.interface.js';
import { reviveSession, sessionDelta, type Delta } from './session-codec.js';
import {
  SessionEvents,
  type SessionEvent,
  type SessionEventType,
} from '../users/session-events.js';
import { FORWARD, META, SYSTEM, SessionState, USER_FIELDS, type UserId } from './session-state.js';
import { createHmac } from 'node:crypto';
import { TouchTracker } from './touch-tracker.js';
import { idleTimeoutMs } from './session-meta.js';
import { UserKey } from '../users/user-key.js';

/** A read that leaves the TTL alone (an administrative look before a delete). */
const NO_SLIDE: SessionTouch = { skipSlide: true, slackMs: 0 };

const QUIET_MS = 5000;

/** What the cookie must do after a commit: set it (new or renewed id), clear it, or nothing. @internal */
export type CookieAction = 'set' | 'clear' | 'none';

/** How a commit may act, as the HTTP layer sees the request. @internal */
export interface PersistOptions {
  /** The request failed (the handler threw, or the status is an error): no identity change. */
  failed: boolean;
  /** A Set-Cookie can still reach the client: otherwise no new session is created. */
  canSetCookie: boolean;
}

/**
 * How a session lives, knowing nothing of HTTP: load a state from a verified id, and persist a
 * state with its one intent (keep / rotate / end / restart). Internal; applications use
 * `SessionService`.
 * @internal
 */
@Injectable()
export class SessionLifecycle {
  readonly logger = new Logger('RedisSession');
  /** Sessions this process slid within `touch_interval`. */
  readonly touch: TouchTracker;
  /** The configured idle timeout, ms. */
  private readonly defaultTimeoutMs: number;
  // Built once: every read hands the store one of these.
  private readonly slide: SessionTouch | undefined;
  private readonly skipSlide: SessionTouch;
  private lastOutageLog = 0;
  private suppressed = 0;
  /** `user_key`, when set: where the data holds the user id. */
  private readonly userKey: UserKey | undefined;

  constructor(
    @Inject(SESSION_CONFIG) readonly config: SessionConfig,
    @Inject(SESSION_STORE_IN_USE) readonly store: SessionStore,
    readonly events: SessionEvents,
  ) {
    const slackMs = config.touchIntervalMs;
    this.touch = new TouchTracker(slackMs);
    this.defaultTimeoutMs = config.timeoutSeconds * 1000;
    this.slide = slackMs > 0 ? { skipSlide: false, slackMs } : undefined;
    this.skipSlide = { skipSlide: true, slackMs };
    this.userKey = config.userKey === undefined ? undefined : new UserKey(config.userKey);
  }

  /** The id the store keeps for a session id (a keyed hash with `hashed_keys`). */
  storeIdOf(id: string): string {
    return this.store instanceof HashedKeyStore ? this.store.storeIdOf(id) : id;
  }

  /** A session's handle: derived from its id by a keyed hash, safe to show, never reversible. */
  handleOf(id: string): string {
    return createHmac('sha256', this.config.secretKeys[0])
      .update(`handle:${this.storeIdOf(id)}`)
      .digest('base64url')
      .slice(0, 22);
  }

  /** Emits an event, if anyone listens; `previousId` is the id a regenerate moved away from. */
  emit(type: SessionEventType, id: string, userId?: UserId, previousId?: string): void {
    if (!this.events.wanted) return;
    const event: SessionEvent = { type, handle: this.handleOf(id) };
    if (userId !== undefined) event.userId = userId;
    if (previousId !== undefined) event.previousHandle = this.handleOf(previousId);
    this.events.emit(event);
  }

  /** A new, empty, unsaved session with a server-made id. */
  fresh(): SessionState {
    const now = Date.now();
    return new SessionState(this.newId(), Object.create(null), now, this.deadlineFrom(now));
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
   * The session a verified id names, or a fresh one: expired, destroyed, never issued here
   * (strict: the presented id is never adopted) or corrupt (logged by kind, never by content).
   * Plain promise chains rather than async functions: this runs on every request that reads.
   */
  load(verified: VerifiedId | null): Promise<SessionState> {
    if (verified === null) return Promise.resolve(this.fresh());
    return this.read(verified.id).then(
      (fields) => this.fromStored(verified, fields),
      (error) => {
        if (error instanceof CorruptSessionError) return this.startOver(verified.id, error);
        throw this.unavailable(error);
      },
    );
  }

  /** A state from what the store gave for a verified id. */
  private fromStored(
    verified: VerifiedId,
    fields: Map<string, string> | null | 'expired',
  ): SessionState | Promise<SessionState> {
    if (fields === 'expired') this.emit('session.expired', verified.id);
    if (fields === null || fields === 'expired') {
      this.logger.debug(
        `Session cookie names no live session (${this.logId(verified.id)}); starting a fresh session`,
      );
      return this.fresh();
    }
    const successor = fields.get(FORWARD);
    if (successor !== undefined && !fields.has(META.created)) {
      return this.forwarded(successor).catch((error: unknown) => {
        if (error instanceof SessionStoreUnavailableException) throw error;
        return this.startOver(verified.id, error as Error);
      });
    }
    try {
      const state = reviveSession(
        verified.id,
        this.decrypt(fields),
        this.config.serializer,
        this.config.maxSize,
      );
      state.resign = verified.secretIndex > 0;
      return state;
    } catch (error) {
      return this.startOver(verified.id, error as Error);
    }
  }

  /**
   * The stored fields, sliding the TTL unless this process slid it within `touch_interval` (then
   * a plain HGETALL). A skipped read that finds the session's timeout changed since the slide
   * (`adjustTimeout` elsewhere), or its deadline inside the window, slides after all, so no
   * session ends before its timeout.
   */
  private read(id: string): Promise<Map<string, string> | null | 'expired'> {
    if (!this.touch.recent(id)) return this.slidingRead(id);
    return this.store.load(id, this.defaultTimeoutMs, this.skipSlide).then((fields) => {
      if (fields === null || fields === 'expired' || !fields.has(META.created)) return fields;
      const timeoutMs = idleTimeoutMs(fields.get(META.timeout), this.defaultTimeoutMs);
      if (!this.nearDeadline(deadlineOf(fields)) && this.touch.holds(id, timeoutMs)) return fields;
      this.touch.forget(id);
      return this.slidingRead(id);
    });
  }

  /** A read through the load script, which slides the TTL; it opens a touch window. */
  private slidingRead(id: string): Promise<Map<string, string> | null | 'expired'> {
    const sentAt = performance.now();
    return this.store.load(id, this.defaultTimeoutMs, this.slide).then((fields) => {
      if (fields !== null && fields !== 'expired' && fields.has(META.created))
        this.touched(id, sentAt, fields.get(META.timeout), deadlineOf(fields));
      return fields;
    });
  }

  /**
   * Opens a touch window for a slide sent at `sentAt`, unless the session's absolute deadline
   * falls inside it: such sessions are left to the load script, which checks the deadline on
   * Redis' clock.
   */
  private touched(
    id: string,
    sentAt: number,
    timeout: string | number | undefined,
    deadline: number | undefined,
  ): void {
    if (this.nearDeadline(deadline)) return;
    this.touch.slid(id, sentAt, idleTimeoutMs(timeout, this.defaultTimeoutMs));
  }

  private nearDeadline(deadline: number | undefined): boolean {
    return deadline !== undefined && deadline - Date.now() < this.config.touchIntervalMs;
  }

  /**
   * A request in flight with the id a regenerate just retired (within `rotation_grace`): it reads
   * the successor, and writes nothing (the old id is never revived, and no cookie is sent).
   */
  private async forwarded(successor: string): Promise<SessionState> {
    let fields: Map<string, string> | null | 'expired';
    try {
      fields = await this.store.load(successor, this.defaultTimeoutMs, this.slide);
    } catch (error) {
      if (error instanceof CorruptSessionError) return this.fresh();
      throw this.unavailable(error);
    }
    if (fields === null || fields === 'expired' || !fields.has(META.created)) return this.fresh();
    const state = reviveSession(
      successor,
      this.decrypt(fields),
      this.config.serializer,
      this.config.maxSize,
    );
    state.readOnly = true;
    return state;
  }

  /**
   * The plaintext of stored fields, when encryption at rest is on: a new map, so the stored
   * fields (which the near cache may hold) are never changed.
   */
  decrypt(fields: Map<string, string>): Map<string, string> {
    const { cipher } = this.config;
    if (cipher === undefined) return fields;
    const plain = new Map<string, string>();
    for (const [field, value] of fields) plain.set(field, cipher.decrypt(field, value));
    return plain;
  }

  /** Stored data that is not a session: logged by kind, then a fresh session. */
  private startOver(id: string, error: Error): SessionState {
    const reason = error instanceof CorruptSessionError ? error.message : 'unreadable data';
    this.logger.warn(`${reason} (session ${this.logId(id)}); starting a fresh session`);
    return this.fresh();
  }

  /**
   * Writes what the request changed, following the state's intent, and says what the cookie must
   * do. Everything that can fail on the data (serialization, size) fails before the first write,
   * by a synchronous throw. A commit with nothing to write answers synchronously (no promise): the
   * common read-only request.
   */
  persist(state: SessionState, options: PersistOptions): CookieAction | Promise<CookieAction> {
    if (state.readOnly) return 'none';
    this.syncUserKey(state);
    if (options.failed) this.dropIdentityChanges(state);
    // A regenerate in a failed request is a login that did not happen: nothing of it is written,
    // on an existing session and on a new one alike.
    if (options.failed && (state.intent === 'rotate' || state.rotated)) return 'none';
    // No cookie can carry a new id (a WebSocket message, or the headers already left): a login
    // saved under the old id would log in whoever planted that cookie. It is not saved either.
    if (
      !options.canSetCookie &&
      (state.intent === 'rotate' || (state.rotated && state.intent === 'keep'))
    ) {
      this.logger.warn(
        'regenerate() or login() where no cookie can carry the new id (a WebSocket message, or after the response headers left): none of the session changes of this request or message were saved; log in over HTTP',
      );
      return 'none';
    }
    const { serializer, maxSize, maxFields } = this.config;
    const delta = this.encrypt(
      sessionDelta(state, serializer, maxSize, !state.persisted, maxFields),
    );
    // Moved to a new id with nothing in it (passport's logout regenerates, then keeps nothing):
    // an empty session is never stored, so the old one simply ends and its cookie is cleared.
    if (state.intent === 'rotate' && delta.empty && !state.timeoutChanged) state.intent = 'end';
    if (state.intent === 'keep' && !state.userChanged) {
      if (!state.persisted && !state.timeoutChanged && (delta.empty || !options.canSetCookie))
        return 'none';
      // Fields of an existing session and nothing else (no index, no event): the common write,
      // one plain chain to the store.
      if (state.persisted) return this.updateFields(state, delta);
    }
    return this.writeDelta(state, delta, options);
  }

  /** The part of a commit that talks to the store. */
  private async writeDelta(
    state: SessionState,
    delta: Delta,
    options: PersistOptions,
  ): Promise<CookieAction> {
    const predecessor = state.predecessor;
    const ended = [state.loadedId, predecessor, ...state.discarded].filter(isId);
    try {
      const action = await this.write(state, delta, options, ended);
      await this.afterWrite(state, action, predecessor, ended);
      return action;
    } catch (error) {
      throw error instanceof SessionStoreUnavailableException ? error : this.unavailable(error);
    }
  }

  /** The delta with its values encrypted, when encryption at rest is on (compared in plaintext). */
  private encrypt(delta: Delta): Delta {
    const { cipher } = this.config;
    if (cipher === undefined) return delta;
    return { ...delta, set: cipher.encryptPairs(delta.set), all: cipher.encryptPairs(delta.all) };
  }

  /**
   * `user_key`: a user id written to the key binds the session to that user (passport's login
   * included), and its removal unbinds it. A session that never stored the key (bound by
   * `setUser` before `user_key` was set) keeps its binding.
   */
  private syncUserKey(state: SessionState): void {
    if (this.userKey === undefined || state.intent === 'end') return;
    const claim = this.userKey.claim(state);
    if (claim === undefined || (claim ?? undefined) === state.user) return;
    if (claim === null) this.unbind(state);
    else this.bind(state, claim);
    state.userChanged = true;
  }

  /** `setUser`: the binding now, and the user key (if any) with it. */
  setUser(state: SessionState, user: UserId | null): void {
    if (user === null) this.unbind(state);
    else this.bind(state, user);
    this.userKey?.write(state.data, user ?? undefined);
    state.userChanged = true;
  }

  /**
   * Who a stored session belongs to: the user it is bound to (its index entry) and the one a
   * request would see; read without sliding its TTL. Nothing for a session that is gone or does
   * not decode.
   */
  async ownerOf(id: string): Promise<{ bound?: UserId; user?: UserId }> {
    let fields: Awaited<ReturnType<SessionStore['load']>>;
    try {
      fields = await this.store.load(id, this.defaultTimeoutMs, NO_SLIDE);
    } catch (error) {
      if (error instanceof CorruptSessionError) return {};
      throw error;
    }
    if (fields === null || fields === 'expired' || !fields.has(META.created)) return {};
    try {
      const { serializer, maxSize } = this.config;
      const state = reviveSession(id, this.decrypt(fields), serializer, maxSize);
      return { bound: state.user, user: this.userOf(state) };
    } catch {
      return {};
    }
  }

  /** The user as the request sees it now: with `user_key`, what the key holds decides. */
  userOf(state: SessionState): UserId | undefined {
    const claim = this.userKey?.claim(state);
    return claim === undefined ? state.user : (claim ?? undefined);
  }

  private unbind(state: SessionState): void {
    for (const field of USER_FIELDS) state.system.delete(field);
  }

  /** Binds the state to a user, with the client's metadata (as tracking allows). */
  bind(state: SessionState, user: UserId): void {
    const now = Date.now();
    if (state.user !== user) state.system.set(SYSTEM.signedIn, now);
    state.system.set(SYSTEM.user, user);
    state.system.set(SYSTEM.lastSeen, now);
    const client = state.client();
    if (this.config.trackUserAgent && client.userAgent !== undefined)
      state.system.set(SYSTEM.userAgent, client.userAgent.slice(0, 512));
    if (this.config.trackIp && client.ip !== undefined) state.system.set(SYSTEM.ip, client.ip);
  }

  /**
   * After the session's own write: the per-user index (a key of its own, so a separate round
   * trip, only when the binding or the id changed) and the events.
   */
  private async afterWrite(
    state: SessionState,
    action: CookieAction,
    predecessor: string | null,
    ended: string[],
  ): Promise<void> {
    const { store } = this;
    const before = state.loadedUser;
    if (state.intent === 'end' || (state.intent === 'restart' && ended.length > 0)) {
      const gone = state.intent === 'end' ? ended : state.discarded;
      if (before !== undefined && gone.length > 0) await store.indexRemove?.(String(before), gone);
      for (const id of new Set(gone)) this.emit('session.destroyed', id, before);
    }
    if (!state.persisted) return;
    const after = state.user;
    const expiresAt = this.expiryOf(state);
    // A binding changed on a session that stays under its id: its write succeeded (a session found
    // gone is no longer persisted), though no cookie is sent again.
    if (state.intent === 'keep' && !state.isNew && state.userChanged && before !== after) {
      if (after !== undefined) await store.indexAdd?.(String(after), state.id, expiresAt);
      if (before !== undefined) await store.indexRemove?.(String(before), [state.id]);
      return;
    }
    if (action !== 'set') return;
    if (state.intent === 'rotate' && predecessor !== null) {
      if (after !== undefined) await store.indexAdd?.(String(after), state.id, expiresAt);
      if (before !== undefined) await store.indexRemove?.(String(before), [predecessor]);
      this.emit('session.regenerated', state.id, after, predecessor);
      return;
    }
    if (state.isNew) {
      if (after !== undefined) await store.indexAdd?.(String(after), state.id, expiresAt);
      this.emit('session.created', state.id, after);
    }
  }

  /** When a session written now expires at the latest (its TTL rule, on this clock). */
  private expiryOf(state: SessionState): number {
    const now = Date.now();
    const idle = now + (state.timeout ?? this.config.timeoutSeconds) * 1000;
    return state.deadline === undefined ? idle : Math.min(idle, state.deadline);
  }

  /**
   * A failed request (a wrong second factor after the password, say) must not leave a new
   * identity behind: a rotated CSRF token goes back to the stored one.
   */
  private dropIdentityChanges(state: SessionState): void {
    const parse = (text: string) => this.config.serializer.deserialize(text);
    const restore = (field: string) => {
      const stored = state.snapshot.get(field);
      if (stored === undefined) state.system.delete(field);
      else state.system.set(field, parse(stored));
    };
    if (state.csrfRotated) restore(SYSTEM.csrf);
    if (state.userChanged) {
      for (const field of USER_FIELDS) restore(field);
      state.userChanged = false;
    }
    // A user key written in the failed request is part of the login that did not happen.
    this.userKey?.restore(state, parse);
  }

  private async write(
    state: SessionState,
    delta: Delta,
    options: PersistOptions,
    /** Every id this request ends if its intent is `end`: loaded, rotated away, discarded. */
    ended: string[],
  ): Promise<CookieAction> {
    const { store } = this;
    const timeoutMs = this.defaultTimeoutMs;
    const cleared: CookieAction = state.loadedId ? 'clear' : 'none';
    if (state.intent === 'end') {
      await Promise.all(ended.map((id) => store.destroy(id)));
      return cleared;
    }
    if (state.intent === 'restart') {
      await Promise.all(state.discarded.map((id) => store.destroy(id)));
      if (delta.empty || !options.canSetCookie) return cleared;
      return (await this.create(state, delta, timeoutMs)) ? 'set' : 'none';
    }
    if (state.intent === 'rotate') {
      // The new session is written first, so a failure leaves the old one intact; if a concurrent
      // logout already deleted the old one, the new one is removed again (no resurrection).
      if (!(await this.create(state, delta, timeoutMs, true))) return 'none';
      const { rotationGraceMs } = this.config;
      const retired =
        rotationGraceMs > 0 && store.retire !== undefined
          ? await store.retire(state.predecessor!, state.id, rotationGraceMs)
          : await store.destroy(state.predecessor!);
      if (!retired) {
        await store.destroy(state.id);
        return 'none';
      }
      return 'set';
    }
    if (!state.persisted) {
      if (delta.empty || !options.canSetCookie) return 'none';
      return (await this.create(state, delta, timeoutMs)) ? 'set' : 'none';
    }
    return this.updateFields(state, delta);
  }

  /**
   * Writes the changed fields of an existing session (none: nothing is sent) and says whether
   * the cookie is set again. Synchronous when there is nothing to write.
   */
  private updateFields(state: SessionState, delta: Delta): CookieAction | Promise<CookieAction> {
    // A cookie with a Max-Age is sent again as the session slides; one that just lost its
    // persistence is sent once more, without it.
    const cookie: CookieAction =
      state.resign ||
      this.config.cookieMaxAge !== undefined ||
      state.system.get(SYSTEM.persistentCookie) === true ||
      state.snapshot.has(SYSTEM.persistentCookie)
        ? 'set'
        : 'none';
    if (delta.set.length === 0 && delta.remove.length === 0 && !state.timeoutChanged) return cookie;
    const { timeout } = state;
    const set =
      state.timeoutChanged && timeout !== undefined
        ? [...delta.set, META.timeout, String(timeout)]
        : delta.set;
    // A reset timeout (undefined) removes `$t`: the script then slides by the configured one.
    const remove =
      state.timeoutChanged && timeout === undefined
        ? [...delta.remove, META.timeout]
        : delta.remove;
    const sentAt = performance.now();
    const { id } = state;
    // Slid within touch_interval (by this request's own read, usually) and no new timeout: the
    // write leaves the TTL alone, and the window stays the one that slide opened.
    const keepTtl =
      !state.timeoutChanged &&
      this.touch.recent(id) &&
      this.touch.holds(id, idleTimeoutMs(state.timeout, this.defaultTimeoutMs));
    const { touchIntervalMs } = this.config;
    return this.store.update(id, set, remove, this.defaultTimeoutMs, touchIntervalMs, keepTtl).then(
      (updated) => {
        // Gone: a concurrent logout or regenerate won. Sending nothing keeps the winner's cookie.
        if (!updated) {
          state.persisted = false;
          return 'none';
        }
        if (!keepTtl) this.touched(id, sentAt, state.timeout, state.deadline);
        return cookie;
      },
      (error) => {
        throw this.unavailable(error);
      },
    );
  }

  /**
   * Creates the session under a free id. A rotated session keeps its creation time, deadline and
   * timeout; a new one gets them from the store's clock.
   */
  private async create(
    state: SessionState,
    delta: Delta,
    timeoutMs: number,
    rotated = false,
  ): Promise<boolean> {
    const meta: string[] = [];
    if (rotated) {
      meta.push(META.created, String(state.created));
      if (state.deadline !== undefined) meta.push(META.deadline, String(state.deadline));
    }
    if (state.timeout !== undefined) meta.push(META.timeout, String(state.timeout));
    const fields = meta.length > 0 ? [...meta, ...delta.all] : delta.all;
    // 256-bit ids do not collide in practice; if one ever does, the existing session is left alone.
    for (let attempt = 0; attempt < 3; attempt++) {
      const sentAt = performance.now();
      const { absoluteTimeoutMs, touchIntervalMs } = this.config;
      if (
        await this.store.create(state.id, fields, timeoutMs, absoluteTimeoutMs, touchIntervalMs)
      ) {
        this.touched(state.id, sentAt, state.timeout, state.deadline);
        state.persisted = true;
        return true;
      }
      state.id = this.newId();
    }
    throw new Error('Could not find a free session id');
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
      const message = String((error as Error)?.message ?? error);
      // Not an outage, though it answers as one: say where the fix is.
      const hint = /NOPERM|can't run this command|no permissions/i.test(message)
        ? " (the Redis user may not run a command or reach a key the library needs: see the README's ACL under Deployment)"
        : '';
      this.logger.error(`Session store unavailable: ${message}${hint}${more}`);
      this.lastOutageLog = now;
      this.suppressed = 0;
    } else {
      this.suppressed++;
    }
    return new SessionStoreUnavailableException(error);
  }
}

/** A stored absolute deadline (ms), if the session has one. */
function deadlineOf(fields: Map<string, string>): number | undefined {
  const text = fields.get(META.deadline);
  return text === undefined ? undefined : Number(text);
}

function isId(id: string | null): id is string {
  return id !== null;
}
