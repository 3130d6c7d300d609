import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Redis, type Cluster } from 'ioredis';
import { spawnRedis, stopProcess } from './redis-server.js';

/**
 * Real Redis topologies for the fault specs: Sentinel (1 master, 1 replica, 3 sentinels) and
 * Cluster (3 masters), every process a child of the test run on loopback ports, every config file
 * in a temp dir that `stop()` removes. Nothing here sleeps: readiness comes from the processes'
 * own output, from Redis replies, or (where Redis offers no event) from a bounded poll.
 */

const HOST = '127.0.0.1';

/**
 * Polls `condition` until it holds, at most `attempts` times `delayMs` apart, then throws.
 * Only for states Redis announces no event for (cluster_state, replica link).
 */
export async function pollUntil(
  what: string,
  condition: () => Promise<boolean> | boolean,
  { attempts = 100, delayMs = 50 } = {},
): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (
      await Promise.resolve()
        .then(condition)
        .catch(() => false)
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  throw new Error(`timed out waiting for ${what} (${attempts} x ${delayMs} ms)`);
}

/** Resolves once an ioredis client (or Cluster) is ready; rejects after `ms`. */
export function whenReady(client: Redis | Cluster, ms = 10_000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error(`client not ready after ${ms} ms (status ${client.status})`));
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}

/** Runs `fn` and measures it in milliseconds. */
export async function timed<T>(fn: () => PromiseLike<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/** Listens on an ephemeral loopback port and returns the base URL (keep-alive friendly). */
export async function listen(app: INestApplication): Promise<string> {
  await app.listen(0, HOST);
  const address = app.getHttpServer().address() as { port: number };
  return `http://${HOST}:${address.port}`;
}

/** A port that is free together with port + 10000 (the cluster bus), and below 55536. */
async function freePortPair(): Promise<number> {
  const probe = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, HOST, () => server.close(() => resolve(true)));
    });
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if ((await probe(port)) && (await probe(port + 10000))) return port;
  }
  throw new Error('no free port pair found');
}

/** Spawns a process and resolves when its stdout contains `marker`. */
function spawnUntil(
  command: string,
  args: string[],
  marker: string | RegExp,
): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (typeof marker === 'string' ? output.includes(marker) : marker.test(output)) {
        child.stdout!.off('data', onData);
        child.removeListener('exit', onExit);
        resolve(child);
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`${command} exited (${code}):\n${output}`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', reject);
  });
}

/** Waits for `count` lines matching `pattern` on a process's stdout (counted from now). */
export function awaitOutput(
  child: ChildProcess,
  pattern: RegExp,
  count = 1,
  ms = 15_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    let buffered = '';
    const timer = setTimeout(() => {
      child.stdout!.off('data', onData);
      reject(new Error(`did not see ${count} x ${pattern} within ${ms} ms`));
    }, ms);
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (pattern.test(line)) seen++;
      if (seen >= count) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
  });
}

// ---------------------------------------------------------------------------------------------
// Sentinel

export interface SentinelTopology {
  name: string;
  master: { process: ChildProcess; port: number };
  replica: { process: ChildProcess; port: number };
  sentinels: { process: ChildProcess; port: number }[];
  /** Sentinel addresses for `redis.sentinels`. */
  addresses: { host: string; port: number }[];
  /** The port Sentinel currently names as master. */
  masterPort(): Promise<number>;
  /** A client subscribed to a sentinel; `next(channel)` resolves on that event's next message. */
  events: Redis;
  nextEvent(channel: string, ms?: number): Promise<string>;
  dir: string;
  stop(): Promise<void>;
}

/**
 * 1 master, 1 replica, 3 sentinels (quorum 2) with a short down-after and failover timeout.
 * Resolves when the replica is in sync and every sentinel knows the replica and both other
 * sentinels, so a failover can start the moment the master dies.
 */
export async function startSentinelTopology({
  name = 'sessions',
  downAfterMs = 1000,
  failoverTimeoutMs = 3000,
} = {}): Promise<SentinelTopology> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-sentinel-'));
  const started: ChildProcess[] = [];
  try {
    const master = await spawnRedis(['--dir', dir]);
    started.push(master.process);
    const replica = await spawnRedis(['--dir', dir, '--replicaof', HOST, String(master.port)]);
    started.push(replica.process);
    // The replica is in sync once the master can WAIT for its acknowledgement.
    const masterClient = new Redis({ host: HOST, port: master.port, lazyConnect: true });
    try {
      await masterClient.connect();
      await pollUntil('replica sync', async () => {
        await masterClient.set('sentinel:probe', '1');
        return (await masterClient.wait(1, 200)) >= 1;
      });
    } finally {
      masterClient.disconnect();
    }

    const sentinels: { process: ChildProcess; port: number }[] = [];
    const discovered: Promise<void>[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePortPair();
      const file = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          `bind ${HOST}`,
          `dir ${dir}`,
          `sentinel monitor ${name} ${HOST} ${master.port} 2`,
          `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
          `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const child = spawn('redis-server', [file, '--sentinel'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      started.push(child);
      discovered.push(awaitOutput(child, /Sentinel ID is/, 1));
      sentinels.push({ process: child, port });
    }
    await Promise.all(discovered);
    // Ask each sentinel (rather than reading its log) until it knows the two others and the
    // replica, so a failover can start the moment the master dies. Hello messages go out every
    // 2 s; a loaded machine can take a while, hence the generous bound.
    for (const sentinel of sentinels) {
      const client = new Redis({ host: HOST, port: sentinel.port, enableReadyCheck: false });
      try {
        await pollUntil(
          `sentinel ${sentinel.port} to see its peers and the replica`,
          async () =>
            ((await client.call('SENTINEL', 'SENTINELS', name)) as unknown[]).length >= 2 &&
            ((await client.call('SENTINEL', 'REPLICAS', name)) as unknown[]).length >= 1,
          { attempts: 300, delayMs: 100 },
        );
      } finally {
        client.disconnect();
      }
    }

    const addresses = sentinels.map((s) => ({ host: HOST, port: s.port }));
    const events = new Redis({ host: HOST, port: sentinels[0].port, enableReadyCheck: false });
    const query = new Redis({ host: HOST, port: sentinels[1].port, enableReadyCheck: false });
    const topology: SentinelTopology = {
      name,
      master,
      replica,
      sentinels,
      addresses,
      dir,
      events,
      async masterPort() {
        const [, port] = (await query.call(
          'SENTINEL',
          'get-master-addr-by-name',
          name,
        )) as string[];
        return Number(port);
      },
      async nextEvent(channel, ms = 20_000) {
        await events.subscribe(channel);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            events.off('message', onMessage);
            reject(new Error(`no ${channel} within ${ms} ms`));
          }, ms);
          const onMessage = (from: string, message: string) => {
            if (from !== channel) return;
            clearTimeout(timer);
            events.off('message', onMessage);
            resolve(message);
          };
          events.on('message', onMessage);
        });
      },
      async stop() {
        events.disconnect();
        query.disconnect();
        await Promise.all(started.map((child) => stopProcess(child)));
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return topology;
  } catch (error) {
    await Promise.all(started.map((child) => stopProcess(child)));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Cluster

export interface ClusterNode {
  port: number;
  process: ChildProcess;
  id: string;
  /** A plain (non-cluster) client to this node, for CLUSTER/MIGRATE commands and assertions. */
  client: Redis;
}

export interface ClusterTopology {
  nodes: ClusterNode[];
  addresses: { host: string; port: number }[];
  /** The node that owns a slot now. */
  ownerOf(slot: number): Promise<ClusterNode>;
  dir: string;
  stop(): Promise<void>;
}

/**
 * `size` masters, no replicas, made with `redis-cli --cluster create`; resolves when every node
 * reports cluster_state:ok and agrees on the slot map.
 */
export async function startCluster(size = 3): Promise<ClusterTopology> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
  const nodes: ClusterNode[] = [];
  const stopAll = async () => {
    for (const node of nodes) node.client.disconnect();
    await Promise.all(nodes.map((node) => stopProcess(node.process)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < size; i++) {
      const port = await freePortPair();
      const child = await spawnUntil(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          HOST,
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '2000',
        ],
        'Ready to accept connections',
      );
      child.stdout!.resume();
      const client = new Redis({ host: HOST, port });
      nodes.push({ port, process: child, id: '', client });
    }
    for (const node of nodes) node.id = (await node.client.call('CLUSTER', 'MYID')) as string;
    const create = spawnSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `${HOST}:${n.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0)
      throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
    // No event announces cluster_state:ok on every node: poll CLUSTER INFO (bounded).
    await pollUntil(
      'cluster_state:ok on all nodes',
      async () => {
        for (const node of nodes) {
          const info = (await node.client.call('CLUSTER', 'INFO')) as string;
          if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${size}`))
            return false;
        }
        return true;
      },
      { attempts: 200, delayMs: 50 },
    );
    const topology: ClusterTopology = {
      nodes,
      addresses: nodes.map((n) => ({ host: HOST, port: n.port })),
      dir,
      async ownerOf(slot) {
        const slots = (await nodes[0].client.call('CLUSTER', 'SLOTS')) as [
          number,
          number,
          [string, number, string],
        ][];
        for (const [from, to, [, port]] of slots) {
          if (slot >= from && slot <= to) return nodes.find((n) => n.port === Number(port))!;
        }
        throw new Error(`slot ${slot} has no owner`);
      },
      stop: stopAll,
    };
    return topology;
  } catch (error) {
    await stopAll();
    throw error;
  }
}
