import { ReplyError, type Cluster, type Redis } from 'ioredis';
import { NearCache } from './near-cache.js';
import { CREATE_SCRIPT, LOAD_SCRIPT, RETIRE_SCRIPT, UPDATE_SCRIPT } from './session-scripts.js';
import type { SessionStore, SessionTouch } from './session-store.interface.js';
import { CorruptSessionError } from '../session.errors.js';
import { writeBatcher } from './write-batching.js';
import { assertSessionShape } from '../session/session-meta.js';
import { META } from '../session/session-state.js';

type Client = Redis | Cluster;
type ScriptClient = Client & {
  redisSessionLoad(
    key: string,
    timeoutMs: number,
    slackMs: number,
  ): Promise<string[] | number | null>;
  redisSessionCreate(key: string, ...args: (string | number)[]): Promise<number>;
  redisSessionUpdate(key: string, ...args: (string | number)[]): Promise<number>;
  redisSessionRetire(key: string, successor: string, graceMs: number): Promise<number>;
};

function defineScripts(client: Client): ScriptClient {
  const scripts = client as ScriptClient;
  // defineCommand sends EVALSHA and falls back to EVAL on NOSCRIPT (after a restart or failover).
  if (typeof scripts.redisSessionLoad !== 'function') {
    client.defineCommand('redisSessionLoad', { numberOfKeys: 1, lua: LOAD_SCRIPT });
    client.defineCommand('redisSessionCreate', { numberOfKeys: 1, lua: CREATE_SCRIPT });
    client.defineCommand('redisSessionUpdate', { numberOfKeys: 1, lua: UPDATE_SCRIPT });
    client.defineCommand('redisSessionRetire', { numberOfKeys: 1, lua: RETIRE_SCRIPT });
  }
  return scripts;
}

function toMap(flat: string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) fields.set(flat[i], flat[i + 1]);
  return fields;
}

/**
 * A hash read without the load script: the checks the script makes on the meta fields are made
 * here (their values are checked when the session is revived).
 */
function plainSession(flat: string[]): Map<string, string> | null {
  if (flat.length === 0) return null;
  const fields = toMap(flat);
  assertSessionShape(fields);
  return fields;
}

/** What the load script answered, as the store interface puts it. */
function scriptSession(result: string[] | number | null): Map<string, string> | null | 'expired' {
  if (result === null) return null;
  if (result === 0) return 'expired';
  if (result === -1) throw new CorruptSessionError('the key holds another Redis type');
  if (result === -2) throw new CorruptSessionError('the hash has no meta fields');
  if (result === -3) throw new CorruptSessionError('meta fields are not valid numbers');
  return toMap(result as string[]);
}

/** A script error (or WRONGTYPE) is about the data, not the connection: never an outage. */
function refusedRead(error: unknown): never {
  if (error instanceof ReplyError) throw new CorruptSessionError('the store refused to read it');
  throw error;
}

const GLOB = /[*?[\]\\]/g;

const isOne = (result: number): boolean => result === 1;

/**
 * Sessions in Redis: one hash per session under `<prefix><id>`, each operation one round trip on
 * one key (Cluster-safe).
 * @publicApi
 */
export class RedisSessionStore implements SessionStore {
  private readonly scripts: ScriptClient;
  private readonly isCluster: boolean;
  /** Holds the connection's writes to the end of the turn: called before every request-path command. */
  private readonly holdWrites: () => void;
  /** `near_cache`: current copies of sessions this process read, when turned on. @internal */
  readonly nearCache: NearCache | undefined;

  /**
   * @param client ioredis client or Cluster.
   * @param prefix key namespace.
   * @param owned whether `close()` should close the client (only clients the module made).
   * @param nearCacheSize sessions to keep in this process's near cache (`near_cache`); 0 for none.
   * Needs a standalone or Sentinel client (not Cluster) and Redis 6 or later.
   */
  constructor(
    readonly client: Client,
    readonly prefix: string,
    private readonly owned = false,
    private readonly timeoutMs?: number,
    /** How long a user's index key outlives the latest expiry it was given. */
    private readonly indexGraceMs = 24 * 3600 * 1000,
    nearCacheSize = 0,
  ) {
    this.scripts = defineScripts(client);
    this.isCluster = 'nodes' in client && typeof client.nodes === 'function';
    this.holdWrites = writeBatcher(client, this.isCluster);
    if (nearCacheSize > 0 && this.isCluster)
      throw new Error('near_cache needs a standalone or Sentinel Redis, not Cluster');
    this.nearCache =
      nearCacheSize > 0 ? new NearCache(client as Redis, prefix, nearCacheSize) : undefined;
  }

  /**
   * A request-side bound for clients the module did not configure itself (passed in or made by a
   * factory), which may have no commandTimeout: the request ends in time whatever the client does.
   */
  private bounded<T>(operation: Promise<T>): Promise<T> {
    const { timeoutMs } = this;
    if (timeoutMs === undefined) return operation;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      operation.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  load(
    id: string,
    defaultTimeoutMs: number,
    touch?: SessionTouch,
  ): Promise<Map<string, string> | null | 'expired'> {
    const cache = this.nearCache;
    if (cache === undefined) return this.read(id, defaultTimeoutMs, touch);
    // A read that may skip the slide sends nothing when this process holds a current copy.
    if (touch?.skipSlide === true) {
      const hit = cache.get(id);
      if (hit !== undefined) return Promise.resolve(hit);
    }
    const mark = cache.mark();
    return this.read(id, defaultTimeoutMs, touch).then((fields) => {
      if (fields instanceof Map && fields.has('$c')) cache.put(id, fields, mark);
      return fields;
    });
  }

  /** One round trip: a plain HGETALL when the slide may be skipped, else the load script. */
  private read(
    id: string,
    defaultTimeoutMs: number,
    touch: SessionTouch | undefined,
  ): Promise<Map<string, string> | null | 'expired'> {
    this.holdWrites();
    if (touch?.skipSlide === true)
      return this.bounded(this.hgetall(id)).then(plainSession, refusedRead);
    return this.bounded(
      this.scripts.redisSessionLoad(this.prefix + id, defaultTimeoutMs, touch?.slackMs ?? 0),
    ).then(scriptSession, refusedRead);
  }

  /**
   * A change this process makes to a session: once it is answered (or failed), the near cache's
   * copy goes, and so does any a read sent before it stored meanwhile.
   */
  private changing<T>(id: string, operation: Promise<T>): Promise<T> {
    const cache = this.nearCache;
    if (cache === undefined) return operation;
    return operation.finally(() => cache.forget(id));
  }

  /** The hash as a flat array: `call` skips the reply transformer that builds an object. */
  private hgetall(id: string): Promise<string[]> {
    return this.client.call('HGETALL', this.prefix + id) as Promise<string[]>;
  }

  async create(
    id: string,
    fields: string[],
    defaultTimeoutMs: number,
    absoluteTimeoutMs = 0,
    slackMs = 0,
  ): Promise<boolean> {
    this.holdWrites();
    const created = await this.bounded(
      this.scripts.redisSessionCreate(
        this.prefix + id,
        defaultTimeoutMs,
        absoluteTimeoutMs,
        slackMs,
        ...fields,
      ),
    );
    return created > 0;
  }

  update(
    id: string,
    set: string[],
    remove: string[],
    defaultTimeoutMs: number,
    slackMs = 0,
    keepTtl = false,
  ): Promise<boolean> {
    // A plain chain, not an async function: the write path of every request that writes.
    this.holdWrites();
    const written = this.bounded(
      this.scripts.redisSessionUpdate(
        this.prefix + id,
        defaultTimeoutMs,
        slackMs,
        set.length / 2,
        keepTtl ? 1 : 0,
        ...set,
        ...remove,
      ),
    ).then(isOne);
    return this.changing(id, written);
  }

  retire(id: string, successor: string, graceMs: number): Promise<boolean> {
    this.holdWrites();
    const retired = this.bounded(
      this.scripts.redisSessionRetire(this.prefix + id, successor, Math.ceil(graceMs)),
    ).then(isOne);
    return this.changing(id, retired);
  }

  destroy(id: string): Promise<boolean> {
    this.holdWrites();
    const deleted = this.bounded(this.client.del(this.prefix + id)).then((n) => n > 0);
    return this.changing(id, deleted);
  }

  async exists(id: string): Promise<boolean> {
    this.holdWrites();
    // A session has its creation time; a retired id's forward marker (rotation grace) does not.
    return (await this.bounded(this.client.hexists(this.prefix + id, META.created))) > 0;
  }

  async *ids(): AsyncIterable<string> {
    const match = this.prefix.replace(GLOB, '\\$&') + '*';
    const nodes = this.isCluster
      ? (this.client as Cluster).nodes('master')
      : [this.client as Redis];
    for (const node of nodes) {
      // TYPE hash skips foreign keys that happen to share the namespace.
      for await (const keys of node.scanStream({ match, count: 1000, type: 'hash' })) {
        const batch = keys as string[];
        if (batch.length === 0) continue;
        // Forward markers of retired ids are hashes too: one pipelined check per batch.
        const checks = batch.reduce((p, key) => p.hexists(key, META.created), node.pipeline());
        const replies = (await this.bounded(checks.exec())) ?? [];
        for (let i = 0; i < batch.length; i++) {
          if (replies[i]?.[1] === 1) yield batch[i].slice(this.prefix.length);
        }
      }
    }
  }

  private indexKey(user: string): string {
    // ':' never occurs in a session id, so an index key can never be a session key.
    return `${this.prefix}user:${user}`;
  }

  async indexAdd(user: string, id: string, expiresAt: number): Promise<void> {
    const key = this.indexKey(user);
    const score = Math.ceil(expiresAt);
    // The index outlives the entry it was last given; entries of sessions that slid past their
    // score are kept (they are checked against the session keys when listed), so the key's own
    // TTL only ever grows.
    this.holdWrites();
    await this.bounded(
      this.client
        .multi()
        .zadd(key, String(score), id)
        .pexpireat(key, score + this.indexGraceMs, 'GT')
        .pexpireat(key, score + this.indexGraceMs, 'NX')
        .exec(),
    );
  }

  async indexRemove(user: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    this.holdWrites();
    await this.bounded(this.client.zrem(this.indexKey(user), ...ids));
  }

  async indexList(
    user: string,
    fields: string[],
  ): Promise<{ id: string; values: (string | null)[] }[]> {
    const key = this.indexKey(user);
    const ids = await this.bounded(this.client.zrange(key, '0', '-1'));
    if (ids.length === 0) return [];
    // One HMGET per session: pipelined on one server; on Cluster (a pipeline must stay in one
    // slot) sent all at once, each to its own node.
    let replies: [Error | null, unknown][];
    if (this.isCluster) {
      replies = await this.bounded(
        Promise.all(
          ids.map((id) =>
            this.client.hmget(this.prefix + id, '$c', ...fields).then(
              (reply): [Error | null, unknown] => [null, reply],
              (error: Error): [Error | null, unknown] => [error, null],
            ),
          ),
        ),
      );
    } else {
      const pipeline = this.client.pipeline();
      for (const id of ids) pipeline.hmget(this.prefix + id, '$c', ...fields);
      replies = ((await this.bounded(pipeline.exec())) ?? []) as [Error | null, unknown][];
    }
    const live: { id: string; values: (string | null)[] }[] = [];
    const dead: string[] = [];
    replies.forEach(([error, reply], i) => {
      const values = reply as (string | null)[] | undefined;
      // An entry is dropped only when its session is known to be gone, never on an error.
      if (error) throw error;
      if (!values || values[0] === null) dead.push(ids[i]);
      else live.push({ id: ids[i], values: values.slice(1) });
    });
    if (dead.length > 0) await this.bounded(this.client.zrem(key, ...dead));
    return live;
  }

  async ping(): Promise<void> {
    await this.bounded(this.client.ping());
  }

  async close(): Promise<void> {
    await this.nearCache?.close();
    if (!this.owned) return;
    const client = this.client as Redis;
    // A Sentinel client's failover detector keeps connections to the sentinels that QUIT leaves
    // open (they would keep the process alive): disconnect() closes them.
    const { sentinels } = client.options as { sentinels?: unknown[] | null };
    const sentinel = Array.isArray(sentinels) && sentinels.length > 0;
    if (client.status === 'end') {
      if (sentinel) client.disconnect();
      return;
    }
    if (client.status !== 'ready') {
      // Connecting or reconnecting: a QUIT could not be sent, and 'end' may never come while a
      // reconnect timer is pending. disconnect() stops the retries and closes the socket now.
      client.disconnect();
      return;
    }
    // QUIT's reply arrives before the socket closes: wait for 'end' (bounded) so nothing is left open.
    const ended = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      client.once('end', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await client.quit().catch(() => client.disconnect());
    await ended;
    if (sentinel) client.disconnect();
  }
}
