import type { Cluster, Redis } from 'ioredis';
import { CREATE_SCRIPT, LOAD_SCRIPT, UPDATE_SCRIPT } from './session-scripts.js';
import type { SessionStore } from './session-store.interface.js';
import { CorruptSessionError } from '../session.errors.js';

type Client = Redis | Cluster;
type ScriptClient = Client & {
  redisSessionLoad(key: string, now: number, timeoutMs: number): Promise<string[] | number | null>;
  redisSessionCreate(key: string, ...args: (string | number)[]): Promise<number>;
  redisSessionUpdate(key: string, ...args: (string | number)[]): Promise<number>;
};

function defineScripts(client: Client): ScriptClient {
  const scripts = client as ScriptClient;
  // defineCommand sends EVALSHA and falls back to EVAL on NOSCRIPT (after a restart or failover).
  if (typeof scripts.redisSessionLoad !== 'function') {
    client.defineCommand('redisSessionLoad', { numberOfKeys: 1, lua: LOAD_SCRIPT });
    client.defineCommand('redisSessionCreate', { numberOfKeys: 1, lua: CREATE_SCRIPT });
    client.defineCommand('redisSessionUpdate', { numberOfKeys: 1, lua: UPDATE_SCRIPT });
  }
  return scripts;
}

function toMap(flat: string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) fields.set(flat[i], flat[i + 1]);
  return fields;
}

const GLOB = /[*?[\]\\]/g;

/**
 * Sessions in Redis: one hash per session under `<prefix><id>`, each operation one round trip on
 * one key (Cluster-safe).
 * @publicApi
 */
export class RedisSessionStore implements SessionStore {
  private readonly scripts: ScriptClient;

  /**
   * @param client ioredis client or Cluster.
   * @param prefix key namespace.
   * @param owned whether `close()` should close the client (only clients the module made).
   */
  constructor(
    readonly client: Client,
    readonly prefix: string,
    private readonly owned = false,
    private readonly timeoutMs?: number,
  ) {
    this.scripts = defineScripts(client);
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

  async load(
    id: string,
    defaultTimeoutMs: number,
    now: number,
  ): Promise<Map<string, string> | null> {
    const result = await this.bounded(
      this.scripts.redisSessionLoad(this.prefix + id, now, defaultTimeoutMs),
    );
    if (result === null) return null;
    if (result === -1) throw new CorruptSessionError('the key holds another Redis type');
    if (result === -2) throw new CorruptSessionError('the hash has no meta fields');
    return toMap(result as string[]);
  }

  async create(id: string, fields: string[], ttlMs: number): Promise<boolean> {
    return (
      (await this.bounded(this.scripts.redisSessionCreate(this.prefix + id, ttlMs, ...fields))) ===
      1
    );
  }

  async update(id: string, set: string[], remove: string[], ttlMs: number): Promise<boolean> {
    const result = await this.bounded(
      this.scripts.redisSessionUpdate(this.prefix + id, ttlMs, set.length / 2, ...set, ...remove),
    );
    return result === 1;
  }

  async destroy(id: string): Promise<boolean> {
    return (await this.bounded(this.client.del(this.prefix + id))) > 0;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.bounded(this.client.exists(this.prefix + id))) > 0;
  }

  async *ids(): AsyncIterable<string> {
    const match = this.prefix.replace(GLOB, '\\$&') + '*';
    const nodes =
      'nodes' in this.client && typeof this.client.nodes === 'function'
        ? (this.client as Cluster).nodes('master')
        : [this.client as Redis];
    for (const node of nodes) {
      // TYPE hash skips foreign keys that happen to share the namespace.
      for await (const keys of node.scanStream({ match, count: 1000, type: 'hash' })) {
        for (const key of keys as string[]) yield key.slice(this.prefix.length);
      }
    }
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    const client = this.client as Redis;
    if (client.status === 'end') return;
    // QUIT's reply arrives before the socket closes: wait for 'end' so nothing is left open.
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    if (client.status === 'ready') {
      await client.quit().catch(() => client.disconnect());
    } else {
      client.disconnect();
    }
    await ended;
  }
}
