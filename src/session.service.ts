import { Inject, Injectable } from '@nestjs/common';
import { MAX_FLASH_MESSAGES } from './redis-session.constants.js';
import { SESSION_MANAGER } from './redis-session.providers.js';
import { SOCKET_HANDSHAKE } from './http/execution-context.js';
import { randomToken } from './security/cookie-signature.util.js';
import type { SessionData } from './session-data.interface.js';
import { SESSION_STATE, SYSTEM, stateOf } from './session/session-state.js';
import { SessionManager } from './session/session.manager.js';

/** Longest per-session idle timeout `adjustTimeout` takes: ten years. */
const MAX_TIMEOUT_SECONDS = 315_360_000;

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
    const state = stateOf(session);
    if (
      typeof seconds !== 'number' ||
      !Number.isFinite(seconds) ||
      seconds < 0 ||
      seconds > MAX_TIMEOUT_SECONDS
    ) {
      throw new RangeError(
        `Session timeout must be a finite number of seconds from 0 to ${MAX_TIMEOUT_SECONDS}, got ${String(seconds)}`,
      );
    }
    if (seconds === 0) {
      state.intent = 'end';
      return;
    }
    state.timeout = seconds;
    state.timeoutChanged = true;
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
    if (messages.length > MAX_FLASH_MESSAGES) messages.splice(0, messages.length - MAX_FLASH_MESSAGES);
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

  /** Deletes a session by id (administration); resolves whether it existed. */
  destroy(id: string): Promise<boolean> {
    return this.guard(this.manager.store.destroy(id));
  }

  /** Whether a live session exists under `id`. */
  exists(id: string): Promise<boolean> {
    return this.guard(this.manager.store.exists(id));
  }

  /** Every live session id in this namespace (SCAN, never KEYS). */
  ids(): AsyncIterable<string> {
    return this.manager.store.ids();
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

  private async guard<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (error) {
      throw this.manager.lifecycle.unavailable(error);
    }
  }
}
