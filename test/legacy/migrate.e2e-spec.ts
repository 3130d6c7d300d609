import { randomBytes } from 'node:crypto';
import { LegacySessionImporter } from '../../src/legacy/legacy-session.importer.js';
import { deriveSessionId } from '../../src/legacy/legacy-session.codec.js';
import {
  migrateLegacySessions,
  type MigrateLegacyStats,
} from '../../src/legacy/migrate-legacy-sessions.js';
import { RedisSessionStore } from '../../src/store/redis-session.store.js';
import { scanAll, startRedis, type RedisHandle } from '../utils/redis-server.js';
import { cookieSignature } from './legacy-apps.js';

/**
 * The bulk mover on 10,000 sessions written as connect-redis writes them: TTLs kept, re-runs and
 * dry runs change nothing, an interrupted run is finished by the next one. Timing and commands per
 * session are measured (INFO commandstats); LEGACY_REPORT=1 prints them.
 */

const SECRET = 'our-secret-our-secret-our-secret-0123456';
const N = 10_000;
const CORRUPT = 20;
const EXPIRED = 10;
const EMPTY = 10;

let redis: RedisHandle;
let run = 0;

interface Dataset {
  legacyPrefix: string;
  prefix: string;
  /** Legacy id → the data it holds. */
  sessions: Map<string, Record<string, unknown>>;
}

/** Writes `n` sessions in connect-redis's form with TTLs from a minute to a day, plus bad ones. */
async function writeDataset(n = N): Promise<Dataset> {
  run++;
  const legacyPrefix = `${redis.prefix}${run}:sess:`;
  const prefix = `${redis.prefix}${run}:session:`;
  const sessions = new Map<string, Record<string, unknown>>();
  const now = Date.now();
  const pipeline = redis.client.pipeline();
  for (let i = 0; i < n; i++) {
    const id = randomBytes(24).toString('base64url');
    const ttl = 60 + ((i * 7919) % 86_340);
    const data = { passport: { user: `user${i}` }, cart: { items: [`item${i}`] }, n: i };
    sessions.set(id, data);
    const cookie = { originalMaxAge: ttl * 1000, expires: new Date(now + ttl * 1000), path: '/' };
    // Some with no TTL at all (connect-redis `disableTTL`, a browser-session cookie).
    if (i % 1000 === 0) {
      pipeline.set(legacyPrefix + id, JSON.stringify({ cookie: { path: '/' }, ...data }));
    } else {
      pipeline.set(legacyPrefix + id, JSON.stringify({ cookie, ...data }), 'EX', ttl);
    }
  }
  for (let i = 0; i < CORRUPT; i++) pipeline.set(`${legacyPrefix}corrupt${i}`, `{"broken":${i}`);
  for (let i = 0; i < EXPIRED; i++) {
    const cookie = { expires: new Date(now - 1000), path: '/' };
    pipeline.set(`${legacyPrefix}expired${i}`, JSON.stringify({ cookie, a: 1 }), 'EX', 600);
  }
  for (let i = 0; i < EMPTY; i++) {
    pipeline.set(`${legacyPrefix}empty${i}`, '{"cookie":{"path":"/"}}', 'EX', 600);
  }
  await pipeline.exec();
  return { legacyPrefix, prefix, sessions };
}

async function commandstats(): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await redis.client.info('commandstats')).split('\r\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match) calls.set(match[1], Number(match[2]));
  }
  return calls;
}

/** PTTL of many keys in one pipeline. */
async function pttls(keys: string[]): Promise<number[]> {
  const pipeline = redis.client.pipeline();
  for (const key of keys) pipeline.pttl(key);
  return ((await pipeline.exec()) ?? []).map(([, value]) => value as number);
}

const migrate = (dataset: Dataset, extra: Partial<Parameters<typeof migrateLegacySessions>[0]>) =>
  migrateLegacySessions({
    client: redis.client,
    legacyPrefix: dataset.legacyPrefix,
    prefix: dataset.prefix,
    secret: SECRET,
    ...extra,
  });

const report = (line: string) => {
  if (process.env.LEGACY_REPORT) process.stderr.write(`${line}\n`);
};

beforeAll(async () => {
  // A Redis of its own: commandstats must count only these commands.
  redis = await startRedis({ own: true });
});

afterAll(async () => {
  await redis?.stop();
});

describe('migrateLegacySessions', () => {
  it('moves 10,000 sessions with their TTLs, after a dry run that changes nothing; a re-run moves 0', async () => {
    const dataset = await writeDataset();
    const ids = [...dataset.sessions.keys()];
    const legacyKeys = ids.map((id) => dataset.legacyPrefix + id);
    const ourKeys = ids.map((id) => dataset.prefix + deriveSessionId(id, SECRET));

    const sizeBefore = await redis.client.dbsize();
    const dry = await migrate(dataset, { dryRun: true });
    expect(dry).toEqual<MigrateLegacyStats>({
      scanned: N + CORRUPT + EXPIRED + EMPTY,
      moved: N,
      skipped: 0,
      expired: EXPIRED,
      empty: EMPTY,
      corrupt: CORRUPT,
      dryRun: true,
      interrupted: false,
    });
    expect(await redis.client.dbsize()).toBe(sizeBefore);
    expect(await scanAll(redis.client, `${dataset.prefix}*`)).toEqual([]);

    const before = await pttls(legacyKeys);
    const readAt = Date.now();
    const statsBefore = await commandstats();
    const startedAt = performance.now();
    const progress: number[] = [];
    const stats = await migrate(dataset, { onProgress: (p) => progress.push(p.scanned) });
    const ms = performance.now() - startedAt;
    const statsAfter = await commandstats();
    expect(stats).toEqual({ ...dry, dryRun: false });
    expect(progress.length).toBeGreaterThan(1);

    const after = await pttls(ourKeys);
    const elapsed = Date.now() - readAt;
    const off = ids.filter((_, i) =>
      before[i] === -1
        ? // No legacy TTL: the default idle timeout (1200 s), from the moment of the move.
          after[i] > 1_200_000 || after[i] < 1_200_000 - elapsed - 1000
        : Math.abs(after[i] - (before[i] - elapsed)) > 1000,
    );
    expect(off).toEqual([]);
    // Every legacy key moved is gone; corrupt ones stay for a human to look at.
    expect(await scanAll(redis.client, `${dataset.legacyPrefix}*`)).toHaveLength(CORRUPT);
    expect(await redis.client.exists(...ourKeys)).toBe(N);

    const store = new RedisSessionStore(redis.client, dataset.prefix);
    for (const id of ids.slice(0, 20)) {
      const fields = (await store.load(deriveSessionId(id, SECRET), 1_200_000)) as Map<
        string,
        string
      >;
      const data = Object.fromEntries(
        [...fields].filter(([f]) => !f.startsWith('$')).map(([f, v]) => [f, JSON.parse(v)]),
      );
      expect(data).toEqual(dataset.sessions.get(id));
    }

    const delta = new Map<string, number>();
    for (const [name, calls] of statsAfter) {
      const diff = calls - (statsBefore.get(name) ?? 0);
      if (diff > 0) delta.set(name, diff);
    }
    delta.set('info', (delta.get('info') ?? 1) - 1);
    const total = [...delta.values()].reduce((a, b) => a + b, 0);
    // Sent by the client (round trips); the rest ran inside the create script.
    const sent = ['scan', 'get', 'pttl', 'evalsha', 'eval', 'del', 'script|load', 'script|exists']
      .map((name) => delta.get(name) ?? 0)
      .reduce((a, b) => a + b, 0);
    report(
      `bulk mover: ${N} sessions in ${ms.toFixed(0)} ms; ` +
        `${(sent / N).toFixed(2)} commands sent and ${(total / N).toFixed(2)} run per session; ` +
        JSON.stringify(Object.fromEntries(delta)),
    );
    expect(sent / N).toBeLessThan(4.1);
    // Generous: a loaded CI machine is slow; an unloaded one does it in about two seconds.
    expect(ms).toBeLessThan(20_000);

    expect(await migrate(dataset, {})).toEqual({
      ...dry,
      dryRun: false,
      scanned: CORRUPT,
      moved: 0,
      expired: 0,
      empty: 0,
    });
  }, 90_000);

  it('is finished by a re-run after an interruption', async () => {
    const dataset = await writeDataset();
    const abort = new AbortController();
    const first = await migrate(dataset, {
      count: 500,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.scanned >= 3000) abort.abort();
      },
    });
    expect(first.interrupted).toBe(true);
    expect(first.moved).toBeGreaterThan(0);
    expect(first.moved).toBeLessThan(N);
    const second = await migrate(dataset, {});
    expect(second.interrupted).toBe(false);
    expect(second.skipped).toBe(0);
    expect(first.moved + second.moved).toBe(N);
    const ours = await scanAll(redis.client, `${dataset.prefix}*`);
    expect(ours).toHaveLength(N);
  }, 90_000);

  it('keeps the legacy keys with keep; a later run without keep skips them all and cleans up', async () => {
    const n = 2000;
    const dataset = await writeDataset(n);
    const kept = await migrate(dataset, { keep: true });
    expect(kept.moved).toBe(n);
    const legacyLeft = await scanAll(redis.client, `${dataset.legacyPrefix}*`);
    expect(legacyLeft).toHaveLength(n + CORRUPT + EXPIRED + EMPTY);
    // As after a run interrupted between its creates and its deletes.
    const finish = await migrate(dataset, {});
    expect(finish).toMatchObject({ moved: 0, skipped: n, corrupt: CORRUPT });
    expect(await scanAll(redis.client, `${dataset.legacyPrefix}*`)).toHaveLength(CORRUPT);
    expect(await scanAll(redis.client, `${dataset.prefix}*`)).toHaveLength(n);
  });

  it('leaves sessions a browser then finds through its legacy cookie', async () => {
    const dataset = await writeDataset(100);
    await migrate(dataset, {});
    const legacySecret = 'legacy-secret-legacy-secret-legacy-0123';
    const logs: string[] = [];
    const importer = new LegacySessionImporter(
      { cookieName: 'connect.sid', secrets: [legacySecret], prefix: dataset.legacyPrefix },
      redis.client,
      new RedisSessionStore(redis.client, dataset.prefix),
      SECRET,
      1_200_000,
      (_level, message) => logs.push(message),
    );
    const [id, data] = [...dataset.sessions][42];
    const cookie = `connect.sid=${encodeURIComponent(`s:${cookieSignature.sign(id, legacySecret)}`)}`;
    const adopted = await importer.adopt(cookie);
    expect(adopted?.id).toBe(deriveSessionId(id, SECRET));
    expect(JSON.parse(adopted!.fields.get('passport')!)).toEqual(data.passport);
    expect(logs).toEqual([]);
  });

  it('escapes glob characters in the prefix and never touches keys outside it', async () => {
    const legacyPrefix = `${redis.prefix}odd[*]?:`;
    await redis.client.set(`${legacyPrefix}abcdefghijklmnopqrstuvwxyz012345`, '{"a":1}', 'EX', 60);
    await redis.client.set(`${redis.prefix}oddX*]?:abcdefghijklmnopqrstuvwxyz012345`, '{"a":1}');
    const stats = await migrateLegacySessions({
      client: redis.client,
      legacyPrefix,
      prefix: `${redis.prefix}odd-ours:`,
      secret: SECRET,
    });
    expect(stats).toMatchObject({ scanned: 1, moved: 1 });
    expect(
      await redis.client.exists(`${redis.prefix}oddX*]?:abcdefghijklmnopqrstuvwxyz012345`),
    ).toBe(1);
  });

  it('refuses a legacy prefix equal to ours', async () => {
    await expect(
      migrateLegacySessions({
        client: redis.client,
        legacyPrefix: 'x:',
        prefix: 'x:',
        secret: SECRET,
      }),
    ).rejects.toThrow(/differ/);
  });
});
