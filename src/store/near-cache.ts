import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';

/** Where Redis publishes invalidations to a RESP2 redirect connection. */
const INVALIDATE = '__redis__:invalidate';

/**
 * `near_cache`: sessions this process read, kept in memory and served without a round trip while
 * Redis' server-assisted client-side caching says no one changed them. The data connection has
 * `CLIENT TRACKING ON REDIRECT <id> BCAST PREFIX <prefix> NOLOOP`: every change to a session key
 * by any other connection (a write, a logout, a regenerate, an expiry, FLUSHDB) is pushed to a
 * second connection, which drops the copy. A change this process makes drops its own copy too.
 *
 * Served only while both connections are up and tracking is on: when either drops, everything is
 * forgotten and nothing is served until tracking is set up again on the new connections. A copy
 * is only stored if no invalidation arrived while its read was in flight. At most `maxEntries`
 * sessions are kept; past that the least recently stored goes.
 * @internal
 */
export class NearCache {
  private readonly entries = new Map<string, Map<string, string>>();
  private readonly logger = new Logger('RedisSession');
  private readonly subscriber: Redis;
  private active = false;
  /** Bumped by every invalidation and drop: a read that saw it change stores nothing. */
  private generation = 0;
  /** Bumped by every drop: a set-up overtaken by a drop does not turn the cache on. */
  private attempt = 0;
  private closed = false;
  private warned = false;
  /** The invalidation connection's client id, while it is subscribed. */
  private subscriberId: number | undefined;
  /** Bumped when the invalidation connection closes: an id from before is stale. */
  private connections = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
    private readonly maxEntries: number,
  ) {
    // RESP2 on purpose: a redirect connection speaking RESP3 gets invalidations as `invalidate`
    // pushes, which ioredis drops; under RESP2 they are Pub/Sub messages with the keys as an
    // array (`messageBuffer` keeps it one; `message` would join it with commas).
    this.subscriber = client.duplicate({
      autoResubscribe: false,
      lazyConnect: true,
      protocol: 2,
    } as Parameters<Redis['duplicate']>[0]);
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('messageBuffer', (channel: Buffer, keys: unknown) => {
      if (channel.toString() === INVALIDATE) this.invalidate(keys);
    });
    this.subscriber.on('ready', () => void this.subscribe());
    this.subscriber.on('close', () => {
      this.subscriberId = undefined;
      this.connections++;
      this.drop();
    });
    client.on('ready', () => void this.track());
    client.on('close', () => this.drop());
    this.subscriber.connect().catch(() => undefined);
  }

  /** Sessions held now (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** Resolves once copies are being served (tracking set up on the current connections). */
  whenServing(): Promise<void> {
    if (this.active) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /**
   * The session's stored fields, if this process holds a current copy. Handed out as they are,
   * not copied: the request path only reads stored fields (decryption builds a map of its own).
   */
  get(id: string): Map<string, string> | undefined {
    return this.active ? this.entries.get(id) : undefined;
  }

  /** A mark to hand back to `put`: taken when the read is sent. */
  mark(): number {
    return this.generation;
  }

  /** Keeps what a read returned, unless something changed since `mark` was taken. */
  put(id: string, fields: Map<string, string>, mark: number): void {
    if (!this.active || mark !== this.generation) return;
    this.entries.delete(id);
    if (this.entries.size >= this.maxEntries)
      this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(id, fields);
  }

  /**
   * A session this process changed (write, destroy, retire): its copy goes, and a read in flight
   * does not store one. Redis 7.0 echoes changes made inside scripts even under NOLOOP, so
   * applying the write to the copy would not keep it anyway; the next read fetches it again.
   */
  forget(id: string): void {
    this.generation++;
    this.entries.delete(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.drop();
    this.subscriber.disconnect();
  }

  /** Keys Redis says changed; `null` (FLUSHDB, FLUSHALL) means every key. */
  private invalidate(keys: unknown): void {
    this.generation++;
    if (!Array.isArray(keys)) {
      this.entries.clear();
      return;
    }
    for (const key of keys) {
      const text = String(key);
      if (text.startsWith(this.prefix)) this.entries.delete(text.slice(this.prefix.length));
    }
  }

  private drop(): void {
    this.active = false;
    this.generation++;
    this.attempt++;
    this.entries.clear();
  }

  /** A (re)connected invalidation connection: its id, its subscription, then tracking. */
  private async subscribe(): Promise<void> {
    const connection = this.connections;
    try {
      const id = (await this.subscriber.client('ID')) as number;
      await this.subscriber.subscribe(INVALIDATE);
      if (connection !== this.connections) return;
      this.subscriberId = id;
    } catch (error) {
      return this.warn(error);
    }
    await this.track();
  }

  /** Tracking on the data connection, redirected to the invalidation connection; then serving. */
  private async track(): Promise<void> {
    this.drop();
    const attempt = this.attempt;
    const id = this.subscriberId;
    if (this.closed || id === undefined || this.client.status !== 'ready') return;
    try {
      // OFF first: tracking may still be on, redirected to a connection that no longer exists.
      await this.client.client('TRACKING', 'OFF');
      await this.client.call(
        'CLIENT',
        'TRACKING',
        'ON',
        'REDIRECT',
        String(id),
        'BCAST',
        'PREFIX',
        this.prefix,
        'NOLOOP',
      );
    } catch (error) {
      return this.warn(error);
    }
    if (attempt !== this.attempt || this.closed) return;
    this.active = true;
    for (const resolve of this.waiting.splice(0)) resolve();
  }

  private warn(error: unknown): void {
    if (this.warned || this.closed) return;
    this.warned = true;
    this.logger.warn(
      `near_cache is off until Redis accepts CLIENT TRACKING: ${(error as Error).message}`,
    );
  }
}
