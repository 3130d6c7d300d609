import type { SessionStore } from './session-store.interface.js';
import { CorruptSessionError } from '../session.errors.js';

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

  async load(
    id: string,
    defaultTimeoutMs: number,
    now: number,
  ): Promise<Map<string, string> | null> {
    const entry = this.live(id);
    if (!entry) return null;
    if (!entry.fields.has('$c')) throw new CorruptSessionError('the hash has no meta fields');
    const timeout = entry.fields.get('$t');
    let ttl = timeout === undefined ? defaultTimeoutMs : Number(timeout) * 1000;
    const deadline = entry.fields.get('$a');
    if (deadline !== undefined) {
      const left = Number(deadline) - now;
      if (left <= 0) {
        this.entries.delete(id);
        return null;
      }
      ttl = Math.min(ttl, left);
    }
    entry.expiresAt = Date.now() + Math.floor(ttl);
    return new Map(entry.fields);
  }

  async create(id: string, fields: string[], ttlMs: number): Promise<boolean> {
    this.sweep();
    if (this.live(id)) return false;
    const map = new Map<string, string>();
    for (let i = 0; i < fields.length; i += 2) map.set(fields[i], fields[i + 1]);
    this.entries.set(id, { fields: map, expiresAt: Date.now() + ttlMs });
    return true;
  }

  async update(id: string, set: string[], remove: string[], ttlMs: number): Promise<boolean> {
    const entry = this.live(id);
    if (!entry) return false;
    for (let i = 0; i < set.length; i += 2) entry.fields.set(set[i], set[i + 1]);
    for (const field of remove) entry.fields.delete(field);
    entry.expiresAt = Date.now() + ttlMs;
    return true;
  }

  async destroy(id: string): Promise<boolean> {
    const existed = this.live(id) !== undefined;
    this.entries.delete(id);
    return existed;
  }

  async exists(id: string): Promise<boolean> {
    return this.live(id) !== undefined;
  }

  async *ids(): AsyncIterable<string> {
    for (const id of [...this.entries.keys()]) if (this.live(id)) yield id;
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

  async close(): Promise<void> {
    this.entries.clear();
  }
}
