import type { SessionConfig } from '../config/session-config.js';
import {
  applyTimeout,
  persistentCookieSeconds,
  persistSessionCookie,
  resetTimeout,
} from '../session/session-meta.js';
import type { SessionState } from '../session/session-state.js';
import { secureFor } from './session-slot.js';

/**
 * express-session's `req.session.cookie`. Reads give this request's cookie; `maxAge` and
 * `expires` can be assigned, as express-session's "remember me" does: a number of milliseconds
 * (or a Date) makes the cookie persistent and the session's idle timeout that long (as
 * `SessionService.adjustTimeout` plus `persistCookie`), `null` makes it a browser-session cookie
 * again, with the configured `timeout`. The other attributes come from the module's settings; assigning them is ignored, with a
 * warning in the log.
 * @publicApi
 */
export interface ExpressSessionCookie {
  readonly path: string;
  readonly domain?: string;
  readonly httpOnly: boolean;
  /** Whether this request's cookie is sent with `Secure` (`cookie_secure: auto` resolved for it). */
  readonly secure: boolean;
  readonly sameSite?: string | boolean;
  /** Milliseconds the cookie has left, or `null` for a browser-session cookie. */
  maxAge: number | null;
  /** The cookie's whole lifetime in milliseconds, or `null` for a browser-session cookie. */
  readonly originalMaxAge: number | null;
  /** When the cookie expires, or `null` for a browser-session cookie. */
  expires: Date | null;
}

/** @internal */
export class CompatCookie implements ExpressSessionCookie {
  /** When this request began: `maxAge` counts down from here, as express-session's does. */
  private since = Date.now();

  constructor(
    private readonly config: SessionConfig,
    private readonly state: SessionState,
    private readonly request: object,
    /** Told when the app assigns an attribute that comes from the settings. */
    private readonly ignored: (attribute: string) => void,
  ) {}

  get path(): string {
    return this.config.cookieAttributes.path ?? '/';
  }

  get domain(): string | undefined {
    return this.config.cookieAttributes.domain;
  }

  get httpOnly(): boolean {
    return this.config.cookieAttributes.httpOnly ?? true;
  }

  get secure(): boolean {
    return secureFor(this.config.cookieSecure, this.request);
  }

  get sameSite(): string | boolean | undefined {
    return this.config.cookieAttributes.sameSite;
  }

  get originalMaxAge(): number | null {
    const { config } = this;
    const seconds =
      persistentCookieSeconds(this.state, config.timeoutSeconds) ?? config.cookieMaxAge;
    return seconds === undefined ? null : seconds * 1000;
  }

  get expires(): Date | null {
    const lifetime = this.originalMaxAge;
    if (lifetime === null) return null;
    const { deadline } = this.state;
    // As the Set-Cookie does: a cookie never outlives the session's absolute deadline.
    const end = this.since + lifetime;
    return new Date(deadline === undefined ? end : Math.min(end, deadline));
  }

  set expires(value: Date | null) {
    if (value === null || value === undefined) this.maxAge = null;
    else if (value instanceof Date) this.maxAge = value.getTime() - Date.now();
    else
      throw new TypeError(`req.session.cookie.expires takes a Date or null, got ${typeof value}`);
  }

  get maxAge(): number | null {
    const expires = this.expires;
    return expires === null ? null : expires.getTime() - Date.now();
  }

  set maxAge(ms: number | null) {
    if (ms === null || ms === undefined) {
      // As express-session's store would: a browser-session cookie's session lives the
      // configured timeout again, not the one "remember me" gave it.
      const { state } = this;
      if (state.timeout !== undefined) resetTimeout(state);
      persistSessionCookie(state, false);
      return;
    }
    if (typeof ms !== 'number' || Number.isNaN(ms)) {
      throw new TypeError(
        `req.session.cookie.maxAge takes milliseconds or null, got ${String(ms)}`,
      );
    }
    // A cookie that expires now ends the session, as express-session's would for the browser.
    if (ms <= 0) {
      applyTimeout(this.state, 0);
      return;
    }
    applyTimeout(this.state, Math.ceil(ms / 1000));
    persistSessionCookie(this.state, true);
    this.since = Date.now();
  }

  /** The cookie's attributes as express-session's `cookie.toJSON()` gives them. */
  toJSON(): Record<string, unknown> {
    const { originalMaxAge, expires, secure, httpOnly, domain, path, sameSite } = this;
    return { originalMaxAge, expires, secure, httpOnly, domain, path, sameSite };
  }
}

/**
 * express-session lets a request change any cookie attribute; here they come from the module's
 * settings, so such an assignment is ignored rather than half-honoured (and never a throw in the
 * middle of someone's login code).
 */
for (const name of ['path', 'domain', 'httpOnly', 'secure', 'sameSite', 'originalMaxAge']) {
  const descriptor = Object.getOwnPropertyDescriptor(CompatCookie.prototype, name)!;
  Object.defineProperty(CompatCookie.prototype, name, {
    ...descriptor,
    set(this: { ignored: (attribute: string) => void }) {
      this.ignored(name);
    },
  });
}
