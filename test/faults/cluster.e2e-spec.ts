import type { INestApplication } from '@nestjs/common';
import { Cluster } from 'ioredis';
import {
  RedisSessionModule,
  SessionService,
  type RedisSessionModuleOptions,
} from '../../src/index.js';
import { Latches } from '../app/security-test.controller.js';
import { SessionTestController } from '../app/session-test.controller.js';
import { UsersTestController } from '../app/users-test.controller.js';
import { ADAPTERS, SECRET, cookieOf, createApp, idOf, request } from '../utils/app.js';
import { monitor, readsProcessed, scanAll } from '../utils/redis-server.js';
import {
  listen,
  startCluster,
  whenReady,
  type ClusterNode,
  type ClusterTopology,
} from '../utils/redis-topology.js';

/**
 * Case 44 on a real 3-master Redis Cluster: sessions spread over every master, regenerate across
 * slots, a live slot migration (MIGRATING/IMPORTING, MIGRATE, SETSLOT NODE) under a request loop,
 * and `ids()` scanning every master. Both ways of connecting: `redis.clusterNodes` (the module
 * makes the Cluster) and `client` (the application passes its own Cluster).
 */

const VARIANTS = ['clusterNodes', 'client'] as const;
/** Sessions to create at most while waiting for every master to hold at least MIN_PER_MASTER. */
const MAX_SESSIONS = 200;
const MIN_PER_MASTER = 3;

let cluster: ClusterTopology;

beforeAll(async () => {
  cluster = await startCluster(3);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

async function keysPerNode(prefix: string): Promise<Map<ClusterNode, string[]>> {
  const result = new Map<ClusterNode, string[]>();
  for (const node of cluster.nodes) result.set(node, await scanAll(node.client, `${prefix}*`));
  return result;
}

async function slotOf(key: string): Promise<number> {
  return (await cluster.nodes[0].client.call('CLUSTER', 'KEYSLOT', key)) as number;
}

describe.each(
  VARIANTS.flatMap((variant) => ADAPTERS.map((adapter) => [variant, adapter] as const)),
)('Redis Cluster via %s on %s', (variant, adapter) => {
  const prefix = `cluster-${variant}-${adapter}:`;
  let app: INestApplication;
  let base: string;
  let own: Cluster | undefined;
  const cookies: string[] = [];
  const http = () => request(base);

  beforeAll(async () => {
    const options: RedisSessionModuleOptions = { secret: SECRET, prefix };
    if (variant === 'clusterNodes') {
      options.redis = { clusterNodes: cluster.addresses, socketTimeout: 1 };
    } else {
      own = new Cluster(cluster.addresses, { redisOptions: { commandTimeout: 1000 } });
      await whenReady(own);
      options.client = own;
    }
    app = await createApp(adapter, {
      imports: [RedisSessionModule.forRoot(options)],
      controllers: [SessionTestController, UsersTestController],
      providers: [Latches],
    });
    base = await listen(app);
  });

  afterAll(async () => {
    await app?.close();
    if (own) {
      // The module never closes a client it was given.
      expect(own.status).toBe('ready');
      own.disconnect();
    }
  });

  it('writes and reads sessions whose keys land on every master', async () => {
    let perNode = await keysPerNode(prefix);
    for (
      let i = 0;
      i < MAX_SESSIONS && [...perNode.values()].some((keys) => keys.length < MIN_PER_MASTER);
      i++
    ) {
      cookies.push(cookieOf(await http().get('/write').expect(200, { counter: 1 })));
      if (i % 10 === 9) perNode = await keysPerNode(prefix);
    }
    perNode = await keysPerNode(prefix);
    console.log(
      `[${variant}/${adapter}] ${cookies.length} sessions, per master: ${[...perNode.values()].map((k) => k.length).join('/')}`,
    );
    for (const keys of perNode.values()) expect(keys.length).toBeGreaterThanOrEqual(MIN_PER_MASTER);
    for (const cookie of cookies) {
      await http().get('/read').set('Cookie', cookie).expect(200, { counter: 1 });
      await http().get('/write').set('Cookie', cookie).expect(200, { counter: 2 });
    }
  });

  it('lists the sessions of all masters through SessionService.ids()', async () => {
    const ids: string[] = [];
    for await (const id of app.get(SessionService).ids()) ids.push(id);
    expect(ids.sort()).toEqual(cookies.map(idOf).sort());
  });

  it('sends the commands of one event-loop turn to each master in one burst', async () => {
    const sessions = app.get(SessionService);
    // Sixty commands, spread over the masters as the sessions are (each id asked several times).
    const ids = Array.from({ length: 60 }, (_, i) => idOf(cookies[i % cookies.length]));
    const reads = () => Promise.all(cluster.nodes.map((node) => readsProcessed(node.client)));
    const before = await reads();
    expect(await Promise.all(ids.map((id) => sessions.exists(id)))).toEqual(ids.map(() => true));
    const after = await reads();
    // Per master: the batch and the INFO that reads the counter again, never one per command.
    after.forEach((count, i) => expect(count - before[i]).toBeLessThanOrEqual(3));
  });

  it('case 20: regenerates across slots: old key deleted, new key present with the data', async () => {
    let crossedNodes = 0;
    for (const cookie of cookies.slice(0, 10)) {
      const oldId = idOf(cookie);
      const res = await http().get('/regenerate').set('Cookie', cookie).expect(200);
      const newCookie = cookieOf(res);
      const newId = idOf(newCookie);
      expect(newId).not.toBe(oldId);
      expect(res.body).toEqual({ id: newId });
      const [oldOwner, newOwner] = await Promise.all([
        slotOf(prefix + oldId).then((slot) => cluster.ownerOf(slot)),
        slotOf(prefix + newId).then((slot) => cluster.ownerOf(slot)),
      ]);
      if (oldOwner !== newOwner) crossedNodes++;
      expect(await oldOwner.client.exists(prefix + oldId)).toBe(0);
      expect(await newOwner.client.hget(prefix + newId, 'counter')).toBe('2');
      await http().get('/read').set('Cookie', newCookie).expect(200, { counter: 2 });
      await http().get('/read').set('Cookie', cookie).expect(200, { counter: null });
    }
    // 10 regenerations all staying on one master would be a 1-in-3^10 coincidence.
    expect(crossedNodes).toBeGreaterThan(0);
  });

  it('keeps serving a session while its slot migrates to another master (ASK, then MOVED)', async () => {
    const cookie = cookieOf(await http().get('/write').expect(200, { counter: 1 }));
    const key = prefix + idOf(cookie);
    const slot = await slotOf(key);
    const source = await cluster.ownerOf(slot);
    const target = cluster.nodes.find((n) => n !== source)!;
    const watch = await monitor(`redis://127.0.0.1:${target.port}`);

    const statuses: number[] = [];
    let stop = false;
    let waiter: { count: number; resolve: () => void } | undefined;
    const afterMore = (n: number) =>
      new Promise<void>((resolve) => (waiter = { count: statuses.length + n, resolve }));
    const loop = (async () => {
      for (let i = 0; i < 2000 && !stop; i++) {
        const res = await http().get('/write').set('Cookie', cookie).timeout(10_000);
        statuses.push(res.status);
        if (waiter && statuses.length >= waiter.count) {
          waiter.resolve();
          waiter = undefined;
        }
      }
      waiter?.resolve();
    })();
    try {
      await afterMore(3);
      await target.client.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
      await source.client.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
      await afterMore(3); // still served by the source: the key is there
      const keys = (await source.client.call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      expect(keys).toContain(key);
      await source.client.call('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys);
      await afterMore(3); // the key moved, the slot did not yet: ASK redirections
      for (const node of [
        target,
        source,
        ...cluster.nodes.filter((n) => n !== source && n !== target),
      ]) {
        await node.client.call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
      }
      await afterMore(5); // MOVED, then the refreshed slot map
    } finally {
      stop = true;
      await loop;
    }
    await watch.settle();
    const asking = watch.all.filter((c) => c.name === 'asking').length;
    await watch.close();
    const counter = Number(await target.client.hget(key, 'counter'));
    console.log(
      `[${variant}/${adapter}] slot ${slot} ${source.port} -> ${target.port}: ${statuses.length} writes during migration, ` +
        `statuses ${[...new Set(statuses)].join(',')}, ASKING seen on target ${asking} times, final counter ${counter}`,
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(asking).toBeGreaterThan(0);
    // The source keeps nothing of the slot (EXISTS there would answer MOVED now).
    expect(await source.client.call('CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(0);
    expect(counter).toBe(1 + statuses.length);
    await http().get('/read').set('Cookie', cookie).expect(200, { counter });
  });

  it('sessions by user: the index key lives in its own slot; list, regenerate and revoke work', async () => {
    const user = `${variant}-${adapter}-user`;
    const devices: string[] = [];
    for (let i = 0; i < 4; i++)
      devices.push(cookieOf(await http().get(`/u/login/${user}`).expect(200)));
    const sessions = app.get(SessionService);
    expect(await sessions.userSessions(user)).toHaveLength(4);
    const rotated = cookieOf(
      await http().get(`/u/login/${user}`).set('Cookie', devices[0]).expect(200),
    );
    expect(await sessions.userSessions(user)).toHaveLength(4);
    const list = (await http().get('/u/devices').set('Cookie', rotated).expect(200)).body;
    expect(list.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    expect((await http().get('/u/revoke-others').set('Cookie', rotated).expect(200)).body).toEqual({
      ended: 3,
    });
    for (const cookie of devices.slice(1))
      await http().get('/u/me').set('Cookie', cookie).expect(200, { user: null });
    await http().get('/u/me').set('Cookie', rotated).expect(200, { user });
    expect(await sessions.revokeUserSessions(user)).toBe(1);
    expect(await sessions.userSessions(user)).toEqual([]);
  });

  if (variant === 'clusterNodes') {
    it('a hung master still ends a request within socket_timeout (1 s) plus a margin', async () => {
      const cookie = cookieOf(await http().get('/write').expect(200, { counter: 1 }));
      const owner = await cluster.ownerOf(await slotOf(prefix + idOf(cookie)));
      // Shorter than cluster-node-timeout (2 s): the others never mark it failed.
      owner.process.kill('SIGSTOP');
      const started = performance.now();
      let status: number;
      try {
        status = (await http().get('/read').set('Cookie', cookie).timeout(10_000)).status;
      } finally {
        owner.process.kill('SIGCONT');
      }
      const ms = performance.now() - started;
      expect(status).toBe(503);
      expect(ms).toBeLessThan(1500);
      await http().get('/read').set('Cookie', cookie).expect(200, { counter: 1 });
    });
  }
});
