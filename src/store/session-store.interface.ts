/**
 * Where sessions live. Every method touches one key only, so a store may sit on Redis Cluster.
 * Fields are the encoded hash fields (user keys and `$`-prefixed meta fields) with their
 * serialized values; the store neither parses nor interprets user data.
 * @publicApi
 */
export interface SessionStore {
  /**
   * Reads a session and slides its TTL in one step. Resolves `null` when there is no live session
   * under `id`; rejects with `CorruptSessionError` when the key holds something that is not one.
   * @param defaultTimeoutMs idle timeout for sessions without their own (`$t`) timeout.
   * @param now the caller's clock, in ms, for the absolute deadline.
   */
  load(id: string, defaultTimeoutMs: number, now: number): Promise<Map<string, string> | null>;
  /** Creates a session only if `id` is free; resolves `false` when the key already exists. */
  create(id: string, fields: string[], ttlMs: number): Promise<boolean>;
  /**
   * Writes changed fields and deletes removed ones, only if the session still exists (a
   * concurrent logout wins); resolves `false` when it no longer does.
   */
  update(id: string, set: string[], remove: string[], ttlMs: number): Promise<boolean>;
  /** Deletes a session; resolves whether it existed. */
  destroy(id: string): Promise<boolean>;
  /** Whether a session exists under `id`. */
  exists(id: string): Promise<boolean>;
  /** Every live session id, without the key prefix. */
  ids(): AsyncIterable<string>;
  /** Releases what the store owns (connections, timers). */
  close?(): Promise<void>;
}

/**
 * Injection token for the store, so `@Inject(SessionStore)` works as with throttler's storage.
 * @publicApi
 */
export const SessionStore = Symbol('SessionStore');
