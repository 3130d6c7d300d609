import type { ChildProcess } from 'node:child_process';
import type { INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import { RedisSessionModule } from '../../src/index.js';
import { SessionTestController } from '../app/session-test.controller.js';
import {
  ADAPTERS,
  SECRET,
  createApp,
  idOf,
  request,
  setCookies,
  type AdapterName,
} from '../utils/app.js';
import { spawnRedis, stopProcess } from '../utils/redis-server.js';
import {
  listen,
  pollUntil,
  startSentinelTopology,
  type SentinelTopology,
} from '../utils/redis-topology.js';
import { budgetMs } from '../utils/outage.js';

/**
 * Case 43: Sentinel failover under a steady request loop, both by killing the master (SIGKILL)
 * and by a manual SENTINEL FAILOVER (where the old master turns replica and answers READONLY).
 * Express and Fastify apps share the topology; the loop alternates between them.
 */

const SOCKET_TIMEOUT_S = 1;
const BUDGET_MS = budgetMs(SOCKET_TIMEOUT_S);
/** Consecutive successes that show the app settled on the new master. */
const SETTLED = 20;
/**
 * Upper bound on a loop's running time (bounded, never endless). A time bound, not a count: 503s
 * come back in a millisecond, so a few thousand iterations would be over before the client has
 * even reconnected to the promoted master.
 */
const MAX_LOOP_MS = 30_000;
const PREFIX = 'sentinel-test:';

interface Sample {
  adapter: AdapterName;
  status: number;
  ms: number;
  at: number;
  /** The counter a 200 answered with: an acknowledged write. */
  counter?: number;
}

/** Sequential /write requests alternating between the apps, recording every outcome. */
class RequestLoop {
  readonly samples: Sample[] = [];
  private stopped = false;
  private readonly cookies = new Map<AdapterName, string | undefined>();
  private readonly waiters: { check: () => boolean; resolve: () => void }[] = [];
  readonly done: Promise<void>;

  constructor(private readonly bases: Map<AdapterName, string>) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    const adapters = [...this.bases.keys()];
    const deadline = performance.now() + MAX_LOOP_MS;
    for (let i = 0; performance.now() < deadline && !this.stopped; i++) {
      const adapter = adapters[i % adapters.length];
      const start = performance.now();
      let req = request(this.bases.get(adapter)!).get('/write').timeout(10_000);
      const cookie = this.cookies.get(adapter);
      if (cookie) req = req.set('Cookie', cookie);
      const res = await req.then(
        (r) => r,
        (error) => ({ status: -1, headers: {}, error }) as unknown as request.Response,
      );
      const [set] = res.status === 200 ? setCookies(res) : [];
      if (set) this.cookies.set(adapter, set.split(';')[0]);
      const counter = res.status === 200 ? (res.body as { counter?: number }).counter : undefined;
      this.samples.push({
        adapter,
        status: res.status,
        ms: performance.now() - start,
        at: start,
        counter,
      });
      for (const waiter of [...this.waiters]) {
        if (waiter.check()) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    }
    this.stopped = true;
    for (const waiter of this.waiters) waiter.resolve();
  }

  /** Resolves when `check` holds after some iteration (or the loop ended: the caller asserts). */
  until(check: () => boolean): Promise<void> {
    if (check() || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  /** The last `n` samples all succeeded, all taken after `since`. */
  settledSince(since: number, n = SETTLED): boolean {
    const tail = this.samples.slice(-n);
    return tail.length === n && tail.every((s) => s.status === 200 && s.at >= since);
  }

  cookie(adapter: AdapterName): string | undefined {
    return this.cookies.get(adapter);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

function summarize(label: string, samples: Sample[], from: number) {
  const during = samples.filter((s) => s.at >= from);
  const firstOk = during.find((s) => s.status === 200);
  const failures = during.filter((s) => s.status !== 200);
  const maxMs = Math.max(...during.map((s) => s.ms));
  const line =
    `${label}: ${during.length} requests, ${failures.length} non-200 (${[...new Set(failures.map((s) => s.status))].join(',') || '-'}), ` +
    `max latency ${maxMs.toFixed(0)} ms, first 200 ${firstOk ? (firstOk.at + firstOk.ms - from).toFixed(0) : '?'} ms after the fault`;
  console.log(line);
  return { during, failures, maxMs };
}

describe('Sentinel failover (1 master, 1 replica, 3 sentinels)', () => {
  let topology: SentinelTopology;
  const apps: INestApplication[] = [];
  const bases = new Map<AdapterName, string>();
  const restarted: ChildProcess[] = [];
  let loop: RequestLoop | undefined;

  beforeAll(async () => {
    topology = await startSentinelTopology({ downAfterMs: 1000, failoverTimeoutMs: 3000 });
    for (const adapter of ADAPTERS) {
      const app = await createApp(adapter, {
        imports: [
          RedisSessionModule.forRoot({
            secret: SECRET,
            prefix: PREFIX,
            redis: {
              sentinels: topology.addresses,
              sentinelName: topology.name,
              socketTimeout: SOCKET_TIMEOUT_S,
            },
          }),
        ],
        controllers: [SessionTestController],
      });
      apps.push(app);
      bases.set(adapter, await listen(app));
    }
  }, 30_000);

  afterAll(async () => {
    await loop?.stop();
    for (const app of apps) await app.close();
    await Promise.all(restarted.map((child) => stopProcess(child)));
    await topology?.stop();
  });

  /** The session the loop holds for `adapter` lives on the master Sentinel names now. */
  async function expectSessionsOnMaster(port: number) {
    const client = new Redis({ host: '127.0.0.1', port });
    try {
      expect((await client.info('replication')).includes('role:master')).toBe(true);
      for (const adapter of ADAPTERS) {
        const cookie = loop!.cookie(adapter)!;
        expect(await client.exists(PREFIX + idOf(cookie))).toBe(1);
        // Every acknowledged write is on the new master: none went to the old one after the
        // switch (where the resync would discard it).
        const acked = loop!.samples.filter((s) => s.adapter === adapter && s.counter !== undefined);
        const stored = Number(await client.hget(PREFIX + idOf(cookie), 'counter'));
        console.log(`${adapter}: last acknowledged ${acked.at(-1)?.counter}, stored ${stored}`);
        expect(stored).toBe(acked.at(-1)!.counter);
      }
    } finally {
      client.disconnect();
    }
  }

  it('keeps every request bounded while the master is killed, then writes succeed on the promoted replica', async () => {
    const oldPort = topology.master.port;
    const switched = topology.nextEvent('+switch-master');
    loop = new RequestLoop(bases);
    await loop.until(() => loop!.samples.length >= 10);
    const killedAt = performance.now();
    await stopProcess(topology.master.process);
    const message = await switched;
    const switchMs = performance.now() - killedAt;
    const newPort = Number(message.split(' ')[4]);
    expect(newPort).toBe(topology.replica.port);
    // Writes may fail a few times while the client finds the new master (bounded by MAX_LOOP_MS).
    await loop.until(() => loop!.settledSince(killedAt + switchMs));
    await loop.stop();
    console.log(
      `+switch-master ${switchMs.toFixed(0)} ms after SIGKILL (${oldPort} -> ${newPort})`,
    );
    const { during, maxMs } = summarize('SIGKILL failover', loop.samples, killedAt);
    expect(during.every((s) => s.status === 200 || s.status === 503)).toBe(true);
    expect(maxMs).toBeLessThan(BUDGET_MS);
    expect(loop.settledSince(killedAt + switchMs)).toBe(true);
    await expectSessionsOnMaster(newPort);
  });

  it('survives a manual SENTINEL FAILOVER (old master demoted to replica) with no lingering READONLY', async () => {
    // The killed master comes back as a replica of the new one, so there is someone to fail over to.
    const currentPort = await topology.masterPort();
    const back = await spawnRedis(
      ['--dir', topology.dir, '--replicaof', '127.0.0.1', String(currentPort)],
      topology.master.port,
    );
    restarted.push(back.process);
    const master = new Redis({ host: '127.0.0.1', port: currentPort });
    const sentinel = new Redis({
      host: '127.0.0.1',
      port: topology.sentinels[2].port,
      enableReadyCheck: false,
    });
    try {
      // No event says "replica in sync": WAIT for its acknowledgement, bounded.
      await pollUntil('restarted replica in sync', async () => (await master.wait(1, 200)) >= 1);
      const switched = topology.nextEvent('+switch-master');
      loop = new RequestLoop(bases);
      await loop.until(() => loop!.samples.length >= 10);
      const startedAt = performance.now();
      // Sentinel refuses (NOGOODSLAVE) until it has seen the returning replica healthy: retry, bounded.
      await pollUntil(
        'SENTINEL FAILOVER accepted',
        async () => (await sentinel.call('SENTINEL', 'FAILOVER', topology.name)) === 'OK',
        { attempts: 100, delayMs: 100 },
      );
      const message = await switched;
      const switchMs = performance.now() - startedAt;
      const newPort = Number(message.split(' ')[4]);
      expect(newPort).toBe(topology.master.port);
      await loop.until(() => loop!.settledSince(startedAt + switchMs));
      await loop.stop();
      console.log(
        `+switch-master ${switchMs.toFixed(0)} ms after SENTINEL FAILOVER (${currentPort} -> ${newPort})`,
      );
      const { during, maxMs } = summarize('manual failover', loop.samples, startedAt);
      expect(during.every((s) => s.status === 200 || s.status === 503)).toBe(true);
      expect(maxMs).toBeLessThan(BUDGET_MS);
      expect(loop.settledSince(startedAt + switchMs)).toBe(true);
      await expectSessionsOnMaster(newPort);
    } finally {
      master.disconnect();
      sentinel.disconnect();
    }
  });
});
