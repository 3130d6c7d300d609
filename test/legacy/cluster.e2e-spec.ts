import { Cluster } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { deriveSessionId } from '../../src/legacy/legacy-session.codec.js';
import { LegacySessionImporter } from '../../src/legacy/legacy-session.importer.js';
import { migrateLegacySessions } from '../../src/legacy/migrate-legacy-sessions.js';
import { RedisSessionStore } from '../../src/store/redis-session.store.js';
import { scanAll } from '../utils/redis-server.js';
import { startCluster, whenReady, type ClusterTopology } from '../utils/redis-topology.js';
import { cookieSignature } from './legacy-apps.js';

/**
 * The importer and the bulk mover on a real 3-master Redis Cluster: every command is single-key,
 * SCAN visits every master, and the derived keys land on whatever slot they hash to.
 */

const SECRET = 'our-secret-our-secret-our-secret-0123456';
const LEGACY_SECRET = 'legacy-secret-legacy-secret-legacy-0123';
const N = 300;

let cluster: ClusterTopology;
let client: Cluster;

beforeAll(async () => {
  cluster = await startCluster(3);
  client = new Cluster(cluster.addresses);
  await whenReady(client);
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

async function write(legacyPrefix: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomBytes(24).toString('base64url'));
  await Promise.all(
    ids.map((id, i) =>
      client.set(
        legacyPrefix + id,
        JSON.stringify({ cookie: { path: '/' }, passport: { user: `u${i}` } }),
        'EX',
        600,
      ),
    ),
  );
  return ids;
}

it('moves sessions held by every master', async () => {
  const ids = await write('c1:sess:', N);
  const perNode = await Promise.all(cluster.nodes.map((n) => scanAll(n.client, 'c1:sess:*')));
  expect(perNode.every((keys) => keys.length > 0)).toBe(true);
  const stats = await migrateLegacySessions({
    client,
    legacyPrefix: 'c1:sess:',
    prefix: 'c1:session:',
    secret: SECRET,
    count: 50,
  });
  expect(stats).toMatchObject({ scanned: N, moved: N, skipped: 0, corrupt: 0 });
  const moved = await Promise.all(cluster.nodes.map((n) => scanAll(n.client, 'c1:session:*')));
  expect(moved.flat().sort()).toEqual(
    ids.map((id) => `c1:session:${deriveSessionId(id, SECRET)}`).sort(),
  );
  expect(
    (await Promise.all(cluster.nodes.map((n) => scanAll(n.client, 'c1:sess:*')))).flat(),
  ).toEqual([]);
  expect(
    await migrateLegacySessions({
      client,
      legacyPrefix: 'c1:sess:',
      prefix: 'c1:session:',
      secret: SECRET,
    }),
  ).toMatchObject({ scanned: 0, moved: 0 });
});

it('adopts a legacy cookie on the request path', async () => {
  const [id] = await write('c2:sess:', 1);
  const logs: string[] = [];
  const importer = new LegacySessionImporter(
    { cookieName: 'connect.sid', secrets: [LEGACY_SECRET], prefix: 'c2:sess:' },
    client,
    new RedisSessionStore(client, 'c2:session:'),
    SECRET,
    1_200_000,
    (_level, message) => logs.push(message),
  );
  const cookie = `connect.sid=${encodeURIComponent(`s:${cookieSignature.sign(id, LEGACY_SECRET)}`)}`;
  const adopted = await importer.adopt(cookie);
  expect(adopted?.id).toBe(deriveSessionId(id, SECRET));
  expect(JSON.parse(adopted!.fields.get('passport')!)).toEqual({ user: 'u0' });
  expect(await client.exists(`c2:sess:${id}`)).toBe(0);
  expect((await importer.adopt(cookie))?.id).toBe(adopted!.id);
});
