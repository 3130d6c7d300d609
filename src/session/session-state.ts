import type { SessionData } from '../session-data.interface.js';

/** Key under which a session object carries its state (non-enumerable, so JSON and Object.keys skip it). @internal */
export const SESSION_STATE = Symbol('nestjs-redis-sessions:state');

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

/** Meta fields every stored session has or may have. @internal */
export const META = { created: '$c', timeout: '$t', deadline: '$a' } as const;

/** Library fields holding values: flash queues and the CSRF token. @internal */
export const SYSTEM = { flash: (queue: string) => `$f:${queue}`, csrf: '$x' } as const;

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
  /** Whether `id` names a stored session (false for a new one, and after regenerate/invalidate). */
  persisted = false;
  /** The stored session this one continues under a new id (regenerate): deleted before the new one is written. */
  predecessor: string | null = null;
  /** Ids to delete at commit (invalidate). */
  discarded: string[] = [];
  /** Per-session idle timeout was changed in this request. */
  timeoutChanged = false;
  /** adjustTimeout(0): the session ends at commit. */
  expireNow = false;
  /** The cookie was signed with an old secret: re-sign it. */
  resign = false;
  /** The id of the live session this request loaded, if any. */
  loadedId: string | null = null;
  /** Whether the session did not exist before this request (or was invalidated in it). */
  isNew = true;

  constructor(
    public id: string,
    public readonly data: SessionData,
    /** Creation time, ms. */
    public created: number,
    /** Absolute deadline, ms since epoch. */
    public deadline: number | undefined,
    /** Per-session idle timeout in seconds, when set by adjustTimeout. */
    public timeout?: number,
  ) {
    Object.defineProperty(data, SESSION_STATE, { value: this, enumerable: false });
  }

  /**
   * Starts over as a new, empty, unsaved session under `id` (invalidate). The same data object is
   * kept, since the handler holds it; what must be deleted at commit (`discarded`) and what the
   * request loaded (`loadedId`) are kept too.
   */
  restart(id: string, created: number, deadline: number | undefined): void {
    for (const key of Object.keys(this.data)) delete this.data[key];
    this.id = id;
    this.created = created;
    this.deadline = deadline;
    this.timeout = undefined;
    this.snapshot.clear();
    this.system.clear();
    this.persisted = false;
    this.predecessor = null;
    this.timeoutChanged = false;
    this.expireNow = false;
    this.resign = false;
    this.isNew = true;
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
