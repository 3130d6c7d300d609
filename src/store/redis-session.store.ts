import { ReplyError, type Cluster, type Redis } from 'ioredis';
import { CREATE_SCRIPT, LOAD_SCRIPT, UPDATE_SCRIPT } from './session-scripts.js';
import type { SessionStore } from './session-store.interface.js';
import { CorruptSessionError } from '../session.errors.js';

type Client = Redis | Cluster;
type ScriptClient = Client & {
  redisSessionLoad(key: string, timeoutMs: number): Promise<string[] | number | null>;
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

  async load(id: string, defaultTimeoutMs: number): Promise<Map<string, string> | null | 'expired'> {
    let result: string[] | number | null;
    try {
      result = await this.bounded(this.scripts.redisSessionLoad(this.prefix + id, defaultTimeoutMs));
    } catch (error) {
      // A script error is about the data (or the script), not the connection: never an outage.
      if (error instanceof ReplyError) throw new CorruptSessionError('the store refused to read it');
      throw error;
    }
    if (result === null) return null;
    if (result === 0) return 'expired';
    if (result === -1) throw new CorruptSessionError('the key holds another Redis type');
    if (result === -2) throw new CorruptSessionError('the hash has no meta fields');
    if (result === -3) throw new CorruptSessionError('meta fields are not valid numbers');
    return toMap(result as string[]);
  }

  async create(
    id: string,
    fields: string[],
    defaultTimeoutMs: number,
    absoluteTimeoutMs = 0,
  ): Promise<boolean> {
    const created = await this.bounded(
      this.scripts.redisSessionCreate(this.prefix + id, defaultTimeoutMs, absoluteTimeoutMs, ...fields),
    );
    return created > 0;
  }

  async update(
    id: string,
    set: string[],
    remove: string[],
    defaultTimeoutMs: number,
  ): Promise<boolean> {
    const result = await this.bounded(
      this.scripts.redisSessionUpdate(
        this.prefix + id,
        defaultTimeoutMs,
        set.length / 2,
        ...set,
        ...remove,
      ),
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
  }
}
