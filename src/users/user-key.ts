import type { SessionData } from '../session-data.interface.js';
import { fieldOf, type SessionState, type UserId } from '../session/session-state.js';

/** `user_key`: a dotted path, each segment a key, none that could reach a prototype. @internal */
export const USER_KEY_PATH =
  /^(?!(?:.*\.)?(?:__proto__|constructor|prototype)(?:\.|$))[^.]+(\.[^.]+)*$/;

type Bag = Record<string, unknown>;

const isBag = (value: unknown): value is Bag =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A user id as `setUser` takes it: a non-empty string or a finite number. @internal */
export function isUserId(value: unknown): value is UserId {
  return (
    (typeof value === 'string' && value !== '') ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}

/**
 * The session key (`userId`), or path into one (`passport.user`), that holds the user id, for
 * `user_key`. A path lets passport's own `req.session.passport.user` bind the session, which is
 * also how sessions moved from express-session become bound on their first request.
 * @internal
 */
export class UserKey {
  private readonly path: string[];

  constructor(userKey: string) {
    this.path = userKey.split('.');
  }

  /** The stored field of the top-level key the path starts at. */
  get field(): string {
    return fieldOf(this.path[0]);
  }

  /** The user id the data holds there, if it holds one. */
  read(data: SessionData): UserId | undefined {
    let value: unknown = data;
    for (const segment of this.path) {
      if (!isBag(value) || !Object.hasOwn(value, segment)) return undefined;
      value = value[segment];
    }
    return isUserId(value) ? value : undefined;
  }

  /** Puts `user` there (making the objects on the way), or takes it out for `undefined`. */
  write(data: SessionData, user: UserId | undefined): void {
    let bag = data as Bag;
    const last = this.path.length - 1;
    for (let i = 0; i < last; i++) {
      const next = bag[this.path[i]];
      if (!isBag(next)) {
        if (user === undefined) return;
        bag[this.path[i]] = {};
      }
      bag = bag[this.path[i]] as Bag;
    }
    if (user === undefined) delete bag[this.path[last]];
    else bag[this.path[last]] = user;
  }

  /**
   * The user the key says the session belongs to: its id; `null` when a stored key lost it (the
   * app logged out); `undefined` when the key says nothing (never stored and not written: a
   * session bound by `setUser` before `user_key` was set keeps its binding).
   */
  claim(state: SessionState): UserId | null | undefined {
    const user = this.read(state.data);
    if (user !== undefined) return user;
    return state.snapshot.has(this.field) ? null : undefined;
  }

  /** Puts the top-level key back as it was stored (a failed request's login did not happen). */
  restore(state: SessionState, parse: (text: string) => unknown): void {
    const key = this.path[0];
    const data = state.data as Bag;
    const stored = state.snapshot.get(this.field);
    if (stored === undefined) delete data[key];
    else data[key] = parse(stored);
  }
}
