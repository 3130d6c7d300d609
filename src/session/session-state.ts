import type { SessionData } from '../session-data.interface.js';

/** Key under which a session object carries its state (non-enumerable, so JSON and Object.keys skip it). @internal */
export const SESSION_STATE = Symbol.for('nestjs-redis-sessions:state');

const DOLLAR = 36;

/**
 * Redis hash field of a user key. Fields starting with one `$` are the library's own (meta, flash,
 * CSRF); a user key starting with `$` is stored with one more, so the two can never collide.
 * @internal
 */
export function fieldOf(key: string): string {
  return key.charCodeAt(0) === DOLLAR ? `$${key}` : key;
}

/** The user key of a field, or `undefined` for the library's own fields. @internal */
export function keyOf(field: string): string | undefined {
  if (field.charCodeAt(0) !== DOLLAR) return field;
  return field.charCodeAt(1) === DOLLAR ? field.slice(1) : undefined;
}

/** The field of a retired id's forward marker, naming its successor (rotation grace). @internal */
export const FORWARD = '$>';

/** Meta fields every stored session has or may have. @internal */
export const META = { created: '$c', timeout: '$t', deadline: '$a' } as const;

/** Library fields holding values: flash queues and the CSRF token. @internal */
export const SYSTEM = {
  flash: (queue: string) => `$f:${queue}`,
  csrf: '$x',
  /** The user the session is bound to (sessions by user). */
  user: '$u',
  /** When the bound session was last seen (ms), at the touch granularity. */
  lastSeen: '$l',
  /** When the session was bound to its user (ms): the "signed in" time of a device list. */
  signedIn: '$s',
  userAgent: '$g',
  ip: '$i',
  /** The cookie outlives the browser (`persistCookie`): Max-Age is the session's idle timeout. */
  persistentCookie: '$p',
} as const;

/** The fields a user binding consists of. @internal */
export const USER_FIELDS = [
  SYSTEM.user,
  SYSTEM.lastSeen,
  SYSTEM.signedIn,
  SYSTEM.userAgent,
  SYSTEM.ip,
] as const;

/** A user id as the per-user index takes it. @publicApi */
export type UserId = string | number;

/**
 * What a commit does with the session, decided by the request:
 * - `keep`: write what changed (create it if it is new and holds data);
 * - `rotate`: move it to a new id (regenerate), the old one dies;
 * - `end`: delete it and clear the cookie;
 * - `restart`: delete the old one; writes made after that start a new session.
 * @internal
 */
export type SessionIntent = 'keep' | 'rotate' | 'end' | 'restart';

/**
 * Everything the library knows about one request's session beside its data: the id, what was
 * stored when it was loaded (to compute the delta), and what the request asked for.
 * @internal
 */
export class SessionState {
  /** Serialized value of every field as loaded, by field name: the baseline of the delta. */
  snapshot = new Map<string, string>();
  /** The library's own fields (flash queues, CSRF token), by field name. */
  system = new Map<string, unknown>();
  /** What the commit does. */
  intent: SessionIntent = 'keep';
  /** Whether `id` names a stored session (false for a new one, and after regenerate/invalidate). */
  persisted = false;
  /** The stored session this one continues under a new id (rotate): deleted once the new one is written. */
  predecessor: string | null = null;
  /** Ids to delete at commit (restart). */
  discarded: string[] = [];
  /** Per-session idle timeout was changed in this request. */
  timeoutChanged = false;
  /** The CSRF token was rotated in this request (an identity change). */
  csrfRotated = false;
  /** The cookie was signed with an old secret: re-sign it. */
  resign = false;
  /** The id of the live session this request loaded, if any. */
  loadedId: string | null = null;
  /** Whether the session did not exist before this request (or was invalidated in it). */
  isNew = true;
  /** Extra Set-Cookie headers the commit sends (clearing a legacy cookie). */
  extraCookies: string[] = [];
  /** The user the session was bound to when loaded (its per-user index entry). */
  loadedUser: UserId | undefined;
  /** Loaded through a retired id's forward marker: read-only, the commit writes nothing. */
  readOnly = false;
  /** setUser was called in this request (an identity change). */
  userChanged = false;
  /**
   * The CSRF token the session had when this request began. It stays valid for the rest of the
   * request: a login in one GraphQL field rotates the token before the next field's guard runs.
   */
  loadedCsrf: string | undefined = undefined;
  /** Loaded for a WebSocket message: no response can carry a new cookie. */
  messageScoped = false;
  /** The client as the request shows it, for the metadata of a bound session (read when bound). */
  client: () => { userAgent?: string; ip?: string } = () => ({});

  constructor(
    public id: string,
    public data: SessionData,
    /** Creation time, ms. */
    public created: number,
    /** Absolute deadline, ms since epoch. */
    public deadline: number | undefined,
    /** Per-session idle timeout in seconds, when set by adjustTimeout. */
    public timeout?: number,
  ) {
    Object.defineProperty(data, SESSION_STATE, {
      value: this,
      enumerable: false,
      configurable: true,
    });
  }

  /**
   * Moves the state to a new data object (express-session's regenerate gives `req.session` a new
   * object while the old one stays readable); the old object no longer belongs to any session.
   */
  rebind(data: SessionData): void {
    Object.defineProperty(this.data, SESSION_STATE, { value: undefined, configurable: true });
    this.data = data;
    Object.defineProperty(data, SESSION_STATE, {
      value: this,
      enumerable: false,
      configurable: true,
    });
  }

  /**
   * Starts over as a new, empty, unsaved session under `id` (invalidate). The same data object is
   * kept, since the handler holds it; the ids to delete at commit and `loadedId` are kept too.
   */
  restart(id: string, created: number, deadline: number | undefined): void {
    for (const key of Object.keys(this.data)) delete this.data[key];
    if (this.persisted) this.discarded.push(this.id);
    if (this.predecessor !== null) this.discarded.push(this.predecessor);
    this.id = id;
    this.created = created;
    this.deadline = deadline;
    this.timeout = undefined;
    this.snapshot.clear();
    this.system.clear();
    this.intent = 'restart';
    this.persisted = false;
    this.predecessor = null;
    this.timeoutChanged = false;
    this.csrfRotated = false;
    this.userChanged = false;
    this.resign = false;
    this.isNew = true;
  }

  /** The user the session is bound to now. */
  get user(): UserId | undefined {
    const user = this.system.get(SYSTEM.user);
    return typeof user === 'string' || typeof user === 'number' ? user : undefined;
  }

  /** regenerate() was called in this request (an identity change, even on a new session). */
  rotated = false;

  /** Moves the session to `id` at commit, keeping its data (regenerate). */
  rotate(id: string): void {
    this.rotated = true;
    if (this.persisted) {
      this.predecessor = this.id;
      this.persisted = false;
      if (this.intent === 'keep') this.intent = 'rotate';
    }
    this.id = id;
    // Every field is written under the new id, so nothing is "unchanged" any more.
    this.snapshot.clear();
  }
}

/**
 * The state behind a session object, or a TypeError that says what was passed instead.
 * @internal
 */
export function stateOf(session: unknown): SessionState {
  const state = (session as { [SESSION_STATE]?: SessionState } | null | undefined)?.[SESSION_STATE];
  if (state === undefined) {
    throw new TypeError('Expected the session object given by @Session() or SessionService.load()');
  }
  return state;
}
