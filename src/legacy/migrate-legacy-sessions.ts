import type { Cluster, Redis } from 'ioredis';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { FieldCipher, parseEncryptionKey } from '../security/field-cipher.js';
import { HashedKeyStore } from '../store/hashed-key.store.js';
import { RedisSessionStore } from '../store/redis-session.store.js';
import { LEGACY_ID_PATTERN } from './legacy-cookie.js';
import {
  LegacySessionError,
  decodeLegacySession,
  deriveSessionId,
  sessionFields,
} from './legacy-session.codec.js';

/** Options of {@link migrateLegacySessions}. @publicApi */
export interface MigrateLegacyOptions {
  /** ioredis client or Cluster (every master is scanned). */
  client: Redis | Cluster;
  /** connect-redis's key prefix. @default 'sess:' */
  legacyPrefix?: string;
  /** This library's key prefix. @default 'session:' */
  prefix?: string;
  /** This library's current signing secret: the key of the id derivation. */
  secret: string | KeyObject;
  /** Keep the legacy keys after moving them. @default false */
  keep?: boolean;
  /** Count what would happen and change nothing. @default false */
  dryRun?: boolean;
  /** SCAN COUNT, also about the batch size. @default 1000 */
  count?: number;
  /** TTL in seconds for a legacy session that has neither a key TTL nor `cookie.expires`. @default 1200 */
  timeout?: number;
  /** Absolute timeout in seconds of moved sessions (`$a`, counted from the move). */
  absoluteTimeout?: number;
  /** Store each under its hashed key, as the application's `hashed_keys` does. @default false */
  hashedKeys?: boolean;
  /**
   * The application's `encryption_key` (64 hex digits or base64 of 32 bytes): values are stored
   * encrypted, as the application stores them.
   */
  encryptionKey?: string;
  /** Value encoder; must match the application's serializer. @default JSON.stringify */
  serialize?: (value: unknown) => string;
  /** Stops after the batch in progress (interrupting is safe: a re-run finishes the job). */
  signal?: AbortSignal;
  /** Called after every batch with the counts so far. */
  onProgress?: (stats: MigrateLegacyStats) => void;
}

/** What a run did (or, with `dryRun`, would do). @publicApi */
export interface MigrateLegacyStats {
  /** Keys SCAN returned (SCAN may return a key twice; the second visit counts as expired). */
  scanned: number;
  /** Sessions created under their derived id. */
  moved: number;
  /** Sessions whose derived id already existed (moved by a request or an earlier run). */
  skipped: number;
  /** Sessions already over (cookie expired, or gone before they were read): not moved. */
  expired: number;
  /** Sessions with no data but the cookie (saveUninitialized): not moved, deleted unless `keep`. */
  empty: number;
  /** Keys that are not sessions (not JSON objects, odd ids): left untouched. */
  corrupt: number;
  dryRun: boolean;
  /** Whether `signal` stopped the run before SCAN finished. */
  interrupted: boolean;
}

type Reply = [Error | null, unknown];

const GLOB = /[*?[\]\\]/g;

function isCluster(client: Redis | Cluster): client is Cluster {
  return 'nodes' in client && typeof client.nodes === 'function';
}

/** The replies of a pipeline, or the first error in it. */
function ok(replies: Reply[] | null): unknown[] {
  return (replies ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** What one scanned key turned out to be: a session to move, or why it is not one. */
type Verdict =
  | 'vanished'
  | 'expired'
  | 'empty'
  | 'corrupt'
  | { legacyId: string; fields: string[]; ttlMs: number | undefined };

function classify(
  legacyId: string,
  text: string | null,
  pttl: number,
  now: number,
  serialize: ((value: unknown) => string) | undefined,
): Verdict {
  // Gone between SCAN and GET (expired, moved by a request, or a key SCAN returned twice).
  if (text === null || pttl === -2) return 'vanished';
  // No browser can present an id the cookie check refuses: such a key is no session to move.
  if (!LEGACY_ID_PATTERN.test(legacyId)) return 'corrupt';
  try {
    const legacy = decodeLegacySession(text, { pttlMs: pttl, now, serialize });
    if (legacy === null) return 'expired';
    return legacy.fields.length === 0 ? 'empty' : { ...legacy, legacyId };
  } catch (error) {
    if (error instanceof LegacySessionError) return 'corrupt';
    throw error;
  }
}

/**
 * Moves every connect-redis session under `legacyPrefix` into this library, each under the id
 * derived from its legacy id (so a browser still sending the legacy cookie finds it) with its
 * remaining TTL. Create-only-if-absent, then delete the legacy key: re-running, or running while
 * the request path moves sessions too, never makes a second copy nor overwrites a newer one.
 * @publicApi
 */
export async function migrateLegacySessions(
  options: MigrateLegacyOptions,
): Promise<MigrateLegacyStats> {
  const { client, secret, keep = false, dryRun = false, count = 1000, signal, serialize } = options;
  const legacyPrefix = options.legacyPrefix ?? 'sess:';
  const prefix = options.prefix ?? 'session:';
  const defaultTtl = (options.timeout ?? 1200) * 1000;
  const absolute =
    options.absoluteTimeout === undefined ? undefined : options.absoluteTimeout * 1000;
  if (legacyPrefix === '' || legacyPrefix === prefix) {
    throw new TypeError('legacyPrefix must be non-empty and differ from prefix');
  }
  // The store's own create-only-if-absent script; its commands are sent together, so a batch
  // costs about one round trip (ioredis routes each by slot on a Cluster).
  const redisStore = new RedisSessionStore(client, prefix);
  let cipher: FieldCipher | undefined;
  if (options.encryptionKey !== undefined) {
    const key = parseEncryptionKey(options.encryptionKey);
    if (typeof key === 'string') throw new TypeError(`encryptionKey ${key}`);
    cipher = new FieldCipher(key);
  }
  // With hashed_keys the application looks sessions up under a keyed hash of the id: a session
  // moved under the plain id would never be found (and its legacy key would already be gone).
  const store = options.hashedKeys
    ? new HashedKeyStore(
        redisStore,
        typeof secret === 'string' ? createSecretKey(Buffer.from(secret)) : secret,
      )
    : redisStore;
  const stats: MigrateLegacyStats = {
    scanned: 0,
    moved: 0,
    skipped: 0,
    expired: 0,
    empty: 0,
    corrupt: 0,
    dryRun,
    interrupted: false,
  };
  const match = legacyPrefix.replace(GLOB, '\\$&') + '*';
  const nodes = isCluster(client) ? client.nodes('master') : [client];

  const batch = async (node: Redis, keys: string[]): Promise<void> => {
    stats.scanned += keys.length;
    // Our own hashes may share the legacy namespace (ours `sess:x:` under `sess:`): never ours.
    const legacyKeys = keys.filter((key) => !key.startsWith(prefix));
    // Read on the node SCAN came from: every key of this batch lives there.
    const reads = ok(
      await node
        .pipeline(
          legacyKeys.flatMap((key) => [
            ['get', key],
            ['pttl', key],
          ]),
        )
        .exec(),
    );
    const readAt = Date.now();
    const deadline = absolute === undefined ? undefined : readAt + absolute;
    const moves: { key: string; id: string; fields: string[]; ttl: number }[] = [];
    const dead: string[] = [];
    legacyKeys.forEach((key, i) => {
      const legacyId = key.slice(legacyPrefix.length);
      const text = reads[2 * i] as string | null;
      const verdict = classify(legacyId, text, reads[2 * i + 1] as number, readAt, serialize);
      if (typeof verdict === 'string') {
        stats[verdict === 'vanished' ? 'expired' : verdict]++;
        // Over or empty: nothing to keep. Corrupt or vanished: never delete what was not read.
        if (verdict === 'expired' || verdict === 'empty') dead.push(key);
        return;
      }
      const ttl = Math.min(verdict.ttlMs ?? defaultTtl, absolute ?? Infinity);
      const fields = sessionFields(verdict.fields, readAt, deadline);
      moves.push({ key, id: deriveSessionId(legacyId, secret), fields, ttl });
    });
    if (dryRun) {
      const exists = await Promise.all(moves.map(({ id }) => store.exists(id)));
      for (const found of exists) stats[found ? 'skipped' : 'moved']++;
      return;
    }
    // The TTL left when PTTL was read, less the time spent since: the session ends when it would have.
    const lag = Date.now() - readAt;
    const created = await Promise.all(
      moves.map(({ id, fields, ttl }) =>
        store.create(
          id,
          cipher ? cipher.encryptPairs(fields) : fields,
          Math.max(1, ttl - lag),
          absolute,
        ),
      ),
    );
    created.forEach((made) => stats[made ? 'moved' : 'skipped']++);
    // Created, or found already there: either way the legacy copy is no longer needed.
    const obsolete = [...moves.map(({ key }) => key), ...dead];
    if (!keep && obsolete.length > 0) {
      ok(await node.pipeline(obsolete.map((key) => ['del', key])).exec());
    }
  };

  for (const node of nodes) {
    // TYPE string: connect-redis stores strings, so hashes (ours) and other types never come back.
    const stream = node.scanStream({ match, count, type: 'string' });
    for await (const keys of stream) {
      if ((keys as string[]).length > 0) await batch(node, keys as string[]);
      options.onProgress?.({ ...stats });
      if (signal?.aborted) {
        stream.destroy();
        stats.interrupted = true;
        return stats;
      }
    }
  }
  return stats;
}
