import { parse, serialize } from 'cookie';
import type { SessionConfig } from '../config/session-config.js';
import { signSessionId, verifySessionCookie, type VerifiedId } from './cookie-signature.util.js';

/** Verified cookie values remembered, so a returning client costs a Map lookup instead of an HMAC. */
const VERIFIED_CACHE_SIZE = 10_000;

/** Why a Cookie header gave no id: none of ours, or two different valid ones (cookie tossing). @internal */
export type CookieVerdict = VerifiedId | null | 'ambiguous';

/**
 * The session cookie, with no I/O: from a Cookie header to a verified id, and the Set-Cookie
 * strings that set or clear it.
 * @internal
 */
export class SessionCookies {
  private readonly verified = new Map<string, VerifiedId>();

  constructor(private readonly config: SessionConfig) {}

  /**
   * The verified id the Cookie header carries. Two different validly signed session cookies (one
   * tossed in from a sibling subdomain, say) are ambiguous: neither is trusted. Duplicates are
   * found with the same tokenizer that resolves the value, so `session =A; session=B` (a name the
   * `cookie` package trims) counts as two.
   */
  verify(header: string | undefined): CookieVerdict {
    if (header === undefined) return null;
    const { cookieName } = this.config;
    const first = header.indexOf(cookieName);
    if (first === -1) return null;
    // Fast path: the name occurs once anywhere in the header, so at most one cookie can carry it.
    if (header.indexOf(cookieName, first + cookieName.length) === -1) {
      const value = parse(header)[cookieName];
      return value === undefined ? null : this.verifyOne(value);
    }
    let chosen: VerifiedId | null = null;
    for (const part of header.split(';')) {
      const value = parse(part)[cookieName];
      if (value === undefined) continue;
      const candidate = this.verifyOne(value);
      if (candidate === null) continue;
      if (chosen !== null && chosen.id !== candidate.id) return 'ambiguous';
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

  /**
   * Set-Cookie for `id`, its Max-Age never past the absolute deadline. `persistFor` (seconds), for
   * a session made persistent by `persistCookie`, takes the place of `cookie_max_age`.
   */
  set(id: string, secure: boolean, deadline: number | undefined, persistFor?: number): string {
    const { config } = this;
    return serialize(config.cookieName, signSessionId(id, config.secretKeys[0]), {
      ...config.cookieAttributes,
      secure,
      maxAge: this.maxAge(deadline, persistFor ?? config.cookieMaxAge),
    });
  }

  /** Set-Cookie that expires the cookie, with the same Path and Domain it was set with. */
  clear(secure: boolean): string {
    const { config } = this;
    return serialize(config.cookieName, '', {
      ...config.cookieAttributes,
      secure,
      maxAge: 0,
      expires: new Date(0),
    });
  }

  /** Max-Age, never past the absolute deadline: a cookie outliving its session only confuses clients. */
  private maxAge(
    deadline: number | undefined,
    cookieMaxAge: number | undefined,
  ): number | undefined {
    if (cookieMaxAge === undefined || deadline === undefined) return cookieMaxAge;
    return Math.max(0, Math.min(cookieMaxAge, Math.floor((deadline - Date.now()) / 1000)));
  }
}
