import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** How to get a redis-server when none is on PATH; said instead of skipping tests. */
export const INSTALL_HINT =
  'redis-server was not found on PATH and REDIS_URL is not set. Install it ' +
  '(Debian/Ubuntu: `sudo apt-get install -y redis-server`; macOS: `brew install redis`) ' +
  'or point REDIS_URL at a Redis the tests may use (they never flush it).';

/** A Redis the tests talk to: one this file started, or the one REDIS_URL names. */
export interface RedisHandle {
  url: string;
  host: string;
  port: number;
  /** The child process, when this handle started one (not for REDIS_URL). */
  process?: ChildProcess;
  /** A key prefix unique to this handle, so tests sharing a Redis never see each other's keys. */
  prefix: string;
  /** A plain client for assertions; closed by stop(). */
  client: Redis;
  stop(): Promise<void>;
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether redis-server can be run here. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/**
 * Starts `redis-server` on a free loopback port with no persistence and resolves once it
 * accepts connections (it says so on stdout). Extra arguments go on its command line.
 */
export async function spawnRedis(
  args: string[] = [],
  port?: number,
): Promise<{ process: ChildProcess; port: number }> {
  if (!hasRedisServer()) throw new Error(INSTALL_HINT);
  const chosen = port ?? (await freePort());
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(chosen),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      '/tmp',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)),
    );
    child.once('error', reject);
  });
  child.removeAllListeners('exit');
  return { process: child, port: chosen };
}

/** Stops a redis-server child and waits until it has exited. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT');
  child.kill('SIGKILL');
  await exited;
}

/**
 * A Redis for one spec file: REDIS_URL when set (shared, so only keys under `prefix` are
 * touched), otherwise a redis-server of its own. `own: true` always starts a process (tests that
 * stop, pause or count every command need one to themselves).
 */
export async function startRedis(
  options: { own?: boolean; args?: string[] } = {},
): Promise<RedisHandle> {
  const prefix = `test:${randomUUID()}:`;
  const shared = process.env.REDIS_URL;
  if (shared && !options.own) {
    const client = new Redis(shared);
    const url = new URL(shared);
    return {
      url: shared,
      host: url.hostname,
      port: Number(url.port || 6379),
      prefix,
      client,
      stop: async () => {
        const keys = await scanAll(client, `${prefix}*`);
        if (keys.length > 0) await client.del(...keys);
        await client.quit();
      },
    };
  }
  const { process: child, port } = await spawnRedis(options.args);
  const client = new Redis({ host: '127.0.0.1', port });
  return {
    url: `redis://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    process: child,
    prefix,
    client,
    stop: async () => {
      client.disconnect();
      await stopProcess(child);
    },
  };
}

/** Every key matching a pattern (SCAN). */
export async function scanAll(client: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of client.scanStream({ match, count: 1000 }))
    keys.push(...(batch as string[]));
  return keys;
}

/** Read events a Redis server has handled since it started: one per burst of bytes a client sent. */
export async function readsProcessed(client: Redis): Promise<number> {
  const stats = await client.info('stats');
  return Number(/total_reads_processed:(\d+)/.exec(stats)?.[1]);
}

/** One command Redis executed, as MONITOR reports it. */
export interface MonitoredCommand {
  name: string;
  args: string[];
  /** `lua` for commands a script ran, otherwise the client address. */
  source: string;
}

/**
 * Records the commands Redis executes (MONITOR). `settle()` waits until everything sent before
 * it has been seen, by sending a marker and waiting for it: no sleeps.
 */
export async function monitor(url: string) {
  const client = new Redis(url);
  const monitorClient = await client.monitor();
  const seen: MonitoredCommand[] = [];
  const waiters = new Map<string, () => void>();
  monitorClient.on('monitor', (_time: string, args: string[], source: string) => {
    const [name, ...rest] = args;
    if (name.toLowerCase() === 'echo' && waiters.has(rest[0])) {
      waiters.get(rest[0])!();
      waiters.delete(rest[0]);
      return;
    }
    seen.push({ name: name.toLowerCase(), args: rest, source });
  });
  return {
    /** Top-level commands (not those a script ran) that touched keys under `prefix`. */
    roundTrips(prefix: string): MonitoredCommand[] {
      return seen.filter((c) => c.source !== 'lua' && c.args.some((a) => a.startsWith(prefix)));
    },
    /**
     * The round trips by command name, any script as `script`: ioredis sends a script's body once
     * per connection (EVAL), then its SHA (EVALSHA), one round trip either way.
     */
    tripNames(prefix: string): string[] {
      return this.roundTrips(prefix).map((c) =>
        c.name === 'eval' || c.name === 'evalsha' ? 'script' : c.name,
      );
    },
    all: seen,
    clear(): void {
      seen.length = 0;
    },
    async settle(): Promise<void> {
      const marker = randomUUID();
      const arrived = new Promise<void>((resolve) => waiters.set(marker, resolve));
      await client.echo(marker);
      await arrived;
    },
    async close(): Promise<void> {
      monitorClient.disconnect();
      client.disconnect();
    },
  };
}
