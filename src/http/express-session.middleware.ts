import { Inject, Injectable, Logger, type NestMiddleware } from '@nestjs/common';
import type { SessionConfig } from '../config/session-config.js';
import { SESSION_CONFIG, SESSION_MANAGER } from '../redis-session.providers.js';
import type { SessionData } from '../session-data.interface.js';
import { SESSION_STATE, stateOf, type SessionState } from '../session/session-state.js';
import type { SessionManager } from '../session/session.manager.js';
import { CompatCookie } from './express-session-cookie.js';
import { rawRequest, type SlottedRequest } from './session-slot.js';

type Callback = (error?: unknown) => void;

/** What express-session puts on a request, as passport and other Connect middleware expect it. */
interface CompatRequest extends SlottedRequest {
  session?: SessionData;
  sessionID?: string;
}

const later = (callback: Callback | undefined, error?: unknown) => {
  if (typeof callback === 'function') process.nextTick(callback, error);
};

/**
 * Gives `req.session` the shape of express-session's, for passport and other Connect middleware:
 * the same data object `@Session()` gets, plus non-enumerable `id`, `cookie`, `regenerate(cb)`
 * (a new id and empty data, as express-session; passport's `keepSessionInfo` works),
 * `destroy(cb)`, `save(cb)`, `reload(cb)`, `touch()`, and `req.sessionID`. Saving still happens
 * once, at the response boundary (`save(cb)` calls back at once: the response is held until the
 * commit, so a redirect never outruns it). Put it where express-session's `session()` was:
 * `app.use(app.get(ExpressSessionMiddleware).middleware)` before `passport.session()`; or turn
 * it on for every route with the module option `expressSession: true` (Nest runs it after the
 * app's own `app.use` middleware).
 *
 * A request without a valid session cookie costs no Redis command; one with a cookie loads the
 * session (one round trip), since passport reads it on every request.
 * @publicApi
 */
@Injectable()
export class ExpressSessionMiddleware implements NestMiddleware {
  private readonly logger = new Logger('RedisSession');
  /** Cookie attributes the app assigned, each warned about once. */
  private readonly ignored = new Set<string>();

  constructor(
    @Inject(SESSION_MANAGER) private readonly manager: SessionManager,
    @Inject(SESSION_CONFIG) private readonly config: SessionConfig,
  ) {}

  /**
   * The middleware as a plain Connect function, for `app.use()` where express-session's
   * `session()` used to be, ahead of `passport.session()` (Nest runs module middleware after
   * the app's own `app.use` middleware).
   * @example app.use(app.get(ExpressSessionMiddleware).middleware); app.use(passport.session());
   */
  readonly middleware = (request: object, response: unknown, next: (error?: unknown) => void) =>
    void this.use(request, response, next);

  async use(request: object, _response: unknown, next: (error?: unknown) => void): Promise<void> {
    const raw = rawRequest(request) as CompatRequest;
    try {
      const data = await this.manager.load(raw);
      this.attach(raw, data);
      next();
    } catch (error) {
      next(error);
    }
  }

  /** Said once per attribute: it means the app expects something the cookie will not do. */
  private readonly ignore = (attribute: string) => {
    if (this.ignored.has(attribute)) return;
    this.ignored.add(attribute);
    this.logger.warn(
      `req.session.cookie.${attribute} was assigned and is ignored: the cookie's attributes come from the module's cookie_* settings`,
    );
  };

  /** Puts the express-session methods on `data` and `data` on the request. */
  private attach(raw: CompatRequest, data: SessionData): void {
    const state = stateOf(data);
    const define = (name: string, value: unknown) =>
      Object.defineProperty(data, name, {
        value,
        enumerable: false,
        configurable: true,
        writable: true,
      });
    Object.defineProperty(data, 'id', {
      get: () => state.id,
      enumerable: false,
      configurable: true,
    });
    define('cookie', new CompatCookie(this.config, state, raw, this.ignore));
    define('regenerate', (callback?: Callback) => this.regenerate(raw, state, callback));
    define('destroy', (callback?: Callback) => {
      const { lifecycle } = this.manager;
      const now = Date.now();
      state.restart(lifecycle.newId(), now, lifecycle.deadlineFrom(now));
      delete raw.session;
      later(callback);
    });
    define('save', (callback?: Callback) => later(callback));
    define('touch', () => data);
    define('reload', (callback?: Callback) => {
      this.reload(state).then(
        () => later(callback),
        (error) => later(callback, error),
      );
    });
    raw.session = data;
    Object.defineProperty(raw, 'sessionID', {
      get: () =>
        raw.session && SESSION_STATE in raw.session ? stateOf(raw.session).id : undefined,
      configurable: true,
    });
  }

  /**
   * express-session's regenerate: a new id and a new, empty `req.session`. The old object keeps
   * its keys (passport merges them back with `keepSessionInfo`) but belongs to no session.
   */
  private regenerate(raw: CompatRequest, state: SessionState, callback?: Callback): void {
    state.rotate(this.manager.lifecycle.newId());
    state.system.clear();
    state.csrfRotated = true;
    const data = Object.create(null) as SessionData;
    state.rebind(data);
    this.attach(raw, data);
    later(callback);
  }

  /** express-session's reload: the stored data replaces this request's copy. */
  private async reload(state: SessionState): Promise<void> {
    if (!state.persisted) return;
    const stored = await this.manager.lifecycle.load({ id: state.id, secretIndex: 0 });
    const data = state.data as Record<string, unknown>;
    for (const key of Object.keys(data)) delete data[key];
    Object.assign(data, stored.data);
    state.snapshot = stored.snapshot;
    state.system = stored.system;
  }
}
