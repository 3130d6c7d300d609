import type { SessionStore, SessionTouch } from './session-store.interface.js';
import { CorruptSessionError } from '../session.errors.js';
import { META, type UserId } from '../session/session-state.js';
import {
  assertSessionShape,
  idleTimeoutMs,
  touchSlackMs,
  validMs,
  validTimeout,
} from '../session/session-meta.js';

interface Entry {
  fields: Map<string, string>;
  expiresAt: number;
}

const SWEEP_INTERVAL_MS = 10_000;

/**
 * An in-process store with the same observable behaviour as the Redis one (sliding TTL, absolute
 * deadline, no resurrection, create-only-if-free), for tests and local development. Expired
 * entries are dropped when touched and swept now and then on writes, so it keeps no timers.
 * @publicApi
 */
export class MemorySessionStore implements SessionStore {
  private readonly entries = new Map<string, Entry>();
  private lastSweep = Date.now();

  /** Number of live sessions (expired ones not counted). */
  get size(): number {
    this.sweep(true);
    return this.entries.size;
  }

  private live(id: string): Entry | undefined {
    const entry = this.entries.get(id);
    if (entry && entry.expiresAt <= Date.now()) {
      this.entries.delete(id);
      return undefined;
    }
    return entry;
  }

  private sweep(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [id, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(id);
  }

  /**
   * The TTL rule of the Redis scripts: min(`$t` or the default plus the touch slack, time left
   * before `$a`), whole ms.
   */
  private ttlOf(
    fields: Map<string, string>,
    defaultTimeoutMs: number,
    now: number,
    slackMs = 0,
  ): number {
    let ttl = idleTimeoutMs(fields.get('$t'), defaultTimeoutMs);
    ttl += touchSlackMs(slackMs, ttl);
    const deadline = fields.get('$a');
    if (deadline !== undefined) ttl = Math.min(ttl, Number(deadline) - now);
    return ttl;
  }

  /** Always slides (a Map costs nothing to write); `touch` only adds its slack. */
  async load(
    id: string,
    defaultTimeoutMs: number,
    touch?: SessionTouch,
  ): Promise<Map<string, string> | null | 'expired'> {
    const entry = this.live(id);
    if (!entry) return null;
    const { fields } = entry;
    assertSessionShape(fields);
    if (!fields.has(META.created)) return new Map(fields);
    const timeout = fields.get('$t');
    const deadline = fields.get('$a');
    if (
      !validMs(Number(fields.get('$c'))) ||
      (timeout !== undefined && !validTimeout(Number(timeout))) ||
      (deadline !== undefined && !validMs(Number(deadline)))
    ) {
      throw new CorruptSessionError('meta fields are not valid numbers');
    }
    const now = Date.now();
    const ttl = this.ttlOf(fields, defaultTimeoutMs, now, touch?.slackMs);
    if (ttl <= 0) {
      this.entries.delete(id);
      return 'expired';
    }
    entry.expiresAt = now + ttl;
    const result = new Map(fields);
    // As the Redis script: a bound session's last-seen time, at most once a minute.
    if (fields.has('$u') && !(now - Number(fields.get('$l')) < 60_000))
      fields.set('$l', String(now));
    return result;
  }

  async create(
    id: string,
    fields: string[],
    defaultTimeoutMs: number,
    absoluteTimeoutMs = 0,
    slackMs = 0,
  ): Promise<boolean> {
    this.sweep();
    if (this.live(id)) return false;
    const map = new Map<string, string>();
    for (let i = 0; i < fields.length; i += 2) map.set(fields[i], fields[i + 1]);
    const now = Date.now();
    if (!map.has('$c')) {
      map.set('$c', String(now));
      if (absoluteTimeoutMs > 0) map.set('$a', String(now + absoluteTimeoutMs));
    }
    const ttl = this.ttlOf(map, defaultTimeoutMs, now, slackMs);
    if (!(ttl > 0)) return false;
    this.entries.set(id, { fields: map, expiresAt: now + ttl });
    return true;
  }

  async update(
    id: string,
    set: string[],
    remove: string[],
    defaultTimeoutMs: number,
    slackMs = 0,
    keepTtl = false,
  ): Promise<boolean> {
    const entry = this.live(id);
    if (!entry || entry.fields.has('$>')) return false;
    const next = new Map(entry.fields);
    for (let i = 0; i < set.length; i += 2) next.set(set[i], set[i + 1]);
    for (const field of remove) next.delete(field);
    if (keepTtl) {
      entry.fields = next;
      return true;
    }
    const now = Date.now();
    const ttl = this.ttlOf(next, defaultTimeoutMs, now, slackMs);
    if (!(ttl > 0)) {
      this.entries.delete(id);
      return false;
    }
    entry.fields = next;
    entry.expiresAt = now + ttl;
    return true;
  }

  async retire(id: string, successor: string, graceMs: number): Promise<boolean> {
    const entry = this.live(id);
    if (!entry || !entry.fields.has(META.created)) return false;
    this.entries.set(id, { fields: new Map([['$>', successor]]), expiresAt: Date.now() + graceMs });
    return true;
  }

  async destroy(id: string): Promise<boolean> {
    const existed = this.live(id) !== undefined;
    this.entries.delete(id);
    return existed;
  }

  async exists(id: string): Promise<boolean> {
    return this.live(id)?.fields.has(META.created) === true;
  }

  async *ids(): AsyncIterable<string> {
    // A retired id's forward marker (rotation grace) is no session.
    for (const id of [...this.entries.keys()])
      if (this.live(id)?.fields.has(META.created)) yield id;
  }

  /** Remaining time to live of a session in ms, or -2 when absent (as Redis PTTL). */
  pttl(id: string): number {
    const entry = this.live(id);
    return entry ? entry.expiresAt - Date.now() : -2;
  }

  /** The stored fields of a session, for assertions in tests. */
  fields(id: string): Map<string, string> | undefined {
    const entry = this.live(id);
    return entry && new Map(entry.fields);
  }

  private readonly indexes = new Map<string, Map<string, number>>();

  async indexAdd(user: string, id: string, expiresAt: number): Promise<void> {
    let index = this.indexes.get(user);
    if (index === undefined) this.indexes.set(user, (index = new Map()));
    index.set(id, expiresAt);
  }

  async indexRemove(user: string, ids: string[]): Promise<void> {
    const index = this.indexes.get(user);
    for (const id of ids) index?.delete(id);
    if (index?.size === 0) this.indexes.delete(user);
  }

  async indexList(
    user: string,
    fields: string[],
  ): Promise<{ id: string; values: (string | null)[] }[]> {
    const index = this.indexes.get(user);
    if (index === undefined) return [];
    const live: { id: string; values: (string | null)[] }[] = [];
    for (const id of [...index.keys()].sort()) {
      const entry = this.live(id);
      if (entry === undefined) index.delete(id);
      else live.push({ id, values: fields.map((f) => entry.fields.get(f) ?? null) });
    }
    if (index.size === 0) this.indexes.delete(user);
    return live;
  }

  /**
   * Entries in a user's index, ended sessions included until they are pruned (for tests). A user
   * id is a string or a number, and 1 and "1" are one user, as everywhere else.
   */
  indexSize(user: UserId): number {
    return this.indexes.get(String(user))?.size ?? 0;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.entries.clear();
  }
}
