/**
 * How a read treats the TTL under `touch_interval` (a store may ignore it and always slide).
 * @publicApi
 */
export interface SessionTouch {
  /** The TTL was slid within the interval: read without sliding it (a plain HGETALL). */
  skipSlide: boolean;
  /**
   * Added to the idle TTL when it is slid, capped at a tenth of the session's idle timeout: reads
   * that skip the slide can never let a session end before its timeout.
   */
  slackMs: number;
}

/**
 * Where sessions live. Every method touches one key only, so a store may sit on Redis Cluster.
 * Fields are the encoded hash fields (user keys and `$`-prefixed meta fields) with their
 * serialized values; the store neither parses nor interprets user data.
 * @publicApi
 */
export interface SessionStore {
  /**
   * Reads a session and slides its TTL in one step. Resolves `null` when there is no live session
   * under `id` (and `'expired'` when it just passed its absolute deadline, if the store can tell);
   * rejects with `CorruptSessionError` when the key holds something that is not one.
   * The TTL is the store's to compute: min(`$t` or `defaultTimeoutMs`, time left before `$a`),
   * in integer milliseconds, on the store's own clock.
   * @param defaultTimeoutMs idle timeout for sessions without their own (`$t`) timeout.
   * @param touch `touch_interval`: whether this read may skip the slide, and the slack to add.
   */
  load(
    id: string,
    defaultTimeoutMs: number,
    touch?: SessionTouch,
  ): Promise<Map<string, string> | null | 'expired'>;
  /**
   * Creates a session only if `id` is free; resolves `false` when the key already exists. Fields
   * without `$c` are a new session: the store stamps `$c` (and `$a` from `absoluteTimeoutMs`)
   * with its own clock; a rotated session brings its own meta fields.
   */
  create(
    id: string,
    fields: string[],
    defaultTimeoutMs: number,
    absoluteTimeoutMs?: number,
    /** `touch_interval` slack (ms) added to the idle TTL, at most a tenth of the timeout. */
    slackMs?: number,
  ): Promise<boolean>;
  /**
   * Writes changed fields and deletes removed ones, only if the session still exists (a
   * concurrent logout wins); resolves `false` when it no longer does. The TTL follows the stored
   * meta fields, not the caller's copy of them.
   */
  update(
    id: string,
    set: string[],
    remove: string[],
    defaultTimeoutMs: number,
    /** `touch_interval` slack (ms) added to the idle TTL, at most a tenth of the timeout. */
    slackMs?: number,
    /**
     * `touch_interval`: the caller slid the TTL within the interval and sets no `$t`, so the
     * store may write the fields and leave the TTL as it is (or slide it anyway).
     */
    keepTtl?: boolean,
  ): Promise<boolean>;
  /**
   * Retires a regenerated session's old id: deletes it and, for `graceMs`, leaves a forward
   * marker (a hash holding only `$>` = the successor) that requests in flight read through.
   * Resolves false when the old session was already gone or retired (a concurrent logout or
   * regenerate won).
   */
  retire?(id: string, successor: string, graceMs: number): Promise<boolean>;
  /** Deletes a session; resolves whether it existed. */
  destroy(id: string): Promise<boolean>;
  /** Whether a session exists under `id`. */
  exists(id: string): Promise<boolean>;
  /** Every live session id, without the key prefix. */
  ids(): AsyncIterable<string>;
  /**
   * Per-user index (sessions by user): adds `id` to the user's index with the time it is known
   * to expire by (ms), and drops from it the entries whose sessions no longer exist. One key per
   * user, so on Cluster it is a separate round trip from the session's own.
   */
  indexAdd?(user: string, id: string, expiresAt: number): Promise<void>;
  /** Removes ids from a user's index. */
  indexRemove?(user: string, ids: string[]): Promise<void>;
  /**
   * The ids in a user's index that still name live sessions, with the given fields of each
   * (in order; `null` for a missing field); entries of ended sessions are dropped on the way.
   */
  indexList?(user: string, fields: string[]): Promise<{ id: string; values: (string | null)[] }[]>;
  /** Resolves when the store answers (health checks); rejects when it does not, in bounded time. */
  ping?(): Promise<void>;
  /** Releases what the store owns (connections, timers). */
  close?(): Promise<void>;
}

/**
 * Injection token for the store, so `@Inject(SessionStore)` works as with throttler's storage.
 * @publicApi
 */
// Symbol.for: the ESM and CJS builds loaded in one process must agree on the token.
export const SessionStore = Symbol.for('nestjs-redis-sessions:SessionStore');
