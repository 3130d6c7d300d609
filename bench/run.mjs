// `npm run bench` driver: deterministic counts first (commands, storage, cookie), then alternating
// throughput rounds, then cross-key lost updates; writes results/results.json and renders the report.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import autocannon from 'autocannon';
import { cookieFor, cookiePair, get, isSession, login, onlyKey, processCpuUs, readSession, startRedis, startServer } from './harness.mjs';
import { render } from './report.mjs';

const num = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const ROUNDS = num('ROUNDS', 2);
const DURATION = num('DURATION', 5);
const WARMUP = num('WARMUP', 2);
const CONNECTIONS = num('CONNECTIONS', 50);
const COUNT_N = num('COUNT_N', 1000);
const LOST_N = num('LOST_N', 10000);
const SETTLE_MS = num('SETTLE_MS', 400);
const VARIANTS = (process.env.VARIANTS ?? 'bare-express,rt-express,floor-express,express-session,lib-express,lib-route-express,bare-fastify,rt-fastify,floor-fastify,fastify-session,lib-fastify,lib-route-fastify,lib-cache-fastify').split(',');
// The route-bound variants differ from lib-* only where no session is used: measure just there and /read.
const routesOf = (variant) => (/^lib-(route|cache)-/.test(variant) ? ['none', 'read'] : ROUTES);
const ROUTES = (process.env.ROUTES ?? 'none,read,write,login').split(',');
const RESULTS = new URL('./results/', import.meta.url);

// Rows of the round-trip budget (DESIGN.md): which request, with or without a logged-in cookie.
const COUNT_CASES = [
  { name: 'none', path: '/none', cookie: true, budget: 0 },
  { name: 'read, no cookie', path: '/read', cookie: false, budget: 0 },
  { name: 'read', path: '/read', cookie: true, budget: 1 },
  { name: 'write', path: '/write', cookie: true, budget: 2 },
  { name: 'login', path: '/login', cookie: false, budget: 1 },
];

const log = (...args) => console.log(new Date().toISOString().slice(11, 19), ...args);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function commandstats(redis) {
  const stats = {};
  for (const line of (await redis.info('commandstats')).split('\r\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),.*failed_calls=(\d+)/.exec(line);
    if (m) stats[m[1]] = { calls: Number(m[2]), failed: Number(m[3]) };
  }
  return stats;
}

/**
 * commandstats counts commands run inside Lua too, so it gives total work; MONITOR tags those
 * `lua`, which separates the round trips (what the request waits on) from the inner commands.
 */
async function countCommands(redis, port, path, cookie, n) {
  const monitor = await redis.monitor();
  const top = {};
  const inner = {};
  monitor.on('monitor', (_time, args, source) => {
    const name = String(args[0]).toLowerCase();
    if (name === 'info') return;
    const bucket = source === 'lua' ? inner : top;
    bucket[name] = (bucket[name] ?? 0) + 1;
  });
  const before = await commandstats(redis);
  let first;
  for (let i = 0; i < n; i++) {
    const res = await get(port, path, cookie);
    if (res.status !== 200) throw new Error(`${path} gave ${res.status}: ${res.body}`);
    first ??= res;
  }
  const after = await commandstats(redis);
  await sleep(200); // MONITOR lines trail the replies the driver already has
  monitor.disconnect();
  const total = {};
  let failed = 0;
  for (const [name, { calls, failed: f }] of Object.entries(after)) {
    if (name === 'info' || name === 'monitor') continue;
    const d = calls - (before[name]?.calls ?? 0);
    if (d > 0) total[name] = d / n;
    failed += f - (before[name]?.failed ?? 0);
  }
  const per = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v / n]));
  const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
  return {
    total,
    totalPerRequest: sum(total),
    roundTrips: per(top),
    roundTripsPerRequest: sum(top) / n,
    insideScripts: sum(inner) / n,
    failed,
    setCookie: first.setCookie.length > 0,
  };
}

async function storage(redis, port) {
  await redis.flushdb();
  const res = await get(port, '/login');
  const key = await onlyKey(redis);
  const type = await redis.type(key);
  let valueBytes;
  if (type === 'string') valueBytes = await redis.strlen(key);
  else {
    valueBytes = 0;
    for (const [f, v] of Object.entries(await redis.hgetall(key))) valueBytes += Buffer.byteLength(f) + Buffer.byteLength(v);
  }
  return {
    key: key.replace(/[A-Za-z0-9_-]{20,}$/, (id) => `<${id.length}-char id>`),
    keyBytes: Buffer.byteLength(key),
    type,
    encoding: await redis.object('ENCODING', key),
    valueBytes,
    memoryUsage: Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')),
    ttl: await redis.ttl(key),
    cookieBytes: cookiePair(res.setCookie).length,
    cookieAttributes: res.setCookie[0]?.split(';').slice(1).map((s) => s.trim()).join('; ') ?? '',
    session: await readSession(redis, key),
    tuned: await withListpack(redis, port),
  };
}

/**
 * Redis keeps a hash compact (listpack) only while every value is ≤ hash-max-listpack-value (64 B
 * by default); one 208-byte field turns the whole hash into a hashtable. What the same login costs
 * with the limit raised, as an operator could configure it.
 */
async function withListpack(redis, port) {
  const [, before] = await redis.config('GET', 'hash-max-listpack-value');
  await redis.config('SET', 'hash-max-listpack-value', '1024');
  try {
    await redis.flushdb();
    await get(port, '/login');
    const key = await onlyKey(redis);
    return {
      setting: 'hash-max-listpack-value 1024',
      encoding: await redis.object('ENCODING', key),
      memoryUsage: Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')),
    };
  } finally {
    await redis.config('SET', 'hash-max-listpack-value', before);
  }
}

function cannon(port, path, cookie, seconds, extra = {}) {
  const opts = { url: `http://127.0.0.1:${port}${path}`, connections: CONNECTIONS, headers: cookie ? { cookie } : {}, ...extra };
  if (seconds !== undefined) opts.duration = seconds;
  return autocannon(opts);
}

/**
 * Share of the machine's CPU busy while the bench itself is idle: other work on a shared box
 * (tests, builds) lands in the run, and the report should say so rather than hide it.
 */
async function backgroundBusy(ms = 300) {
  const sample = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3] + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) };
  };
  try {
    const a = sample();
    await sleep(ms);
    const b = sample();
    return 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
  } catch {
    return undefined;
  }
}

async function redisCpuUs(redis) {
  const info = await redis.info('cpu');
  const get = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)[1]);
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1e6;
}

async function throughputRun(redis, server, route) {
  const background = await backgroundBusy();
  await redis.flushdb();
  const cookie = route === 'login' ? undefined : await cookieFor(server.variant, server.port);
  const path = `/${route}`;
  // Same-key loss comes for free on /write: the counter's rise against the acknowledged writes.
  const sessionKey = isSession(server.variant) && route === 'write' ? await onlyKey(redis) : undefined;
  await cannon(server.port, path, cookie, WARMUP);
  const counterBefore = sessionKey ? ((await readSession(redis, sessionKey)).counter ?? 0) : undefined;
  const cpu0 = [processCpuUs(server.child.pid), await redisCpuUs(redis)];
  const r = await cannon(server.port, path, cookie, DURATION);
  const counterAfter = sessionKey ? ((await readSession(redis, sessionKey)).counter ?? 0) : undefined;
  // autocannon drops its sockets at the deadline, but the server still runs the requests already
  // read; their writes must not land in the next variant's FLUSHed db, nor their CPU in its run.
  await sleep(SETTLE_MS);
  const cpu1 = [processCpuUs(server.child.pid), await redisCpuUs(redis)];
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    ok: r['2xx'],
    bad: r.non2xx + r.errors + r.timeouts,
    sameKeyLost: sessionKey ? r['2xx'] - (counterAfter - counterBefore) : undefined,
    // Anything but 1 on a logged-in route means sessions were created that should not have been.
    // CPU time per request barely moves when other work shares the machine; req/s does.
    serverUs: (cpu1[0] - cpu0[0]) / r.requests.total,
    redisUs: (cpu1[1] - cpu0[1]) / r.requests.total,
    keysAfter: await redis.dbsize(),
    background,
  };
}

/** 50 connections, each incrementing its own key of one shared session. */
async function crossKeyLost(redis, server) {
  await redis.flushdb();
  const cookie = await login(server.port);
  const key = await onlyKey(redis);
  let next = 0;
  const r = await cannon(server.port, '/write/0', cookie, undefined, {
    amount: LOST_N,
    setupClient: (client) => {
      const n = next++;
      client.setRequests([{ method: 'GET', path: `/write/${n}`, headers: { cookie } }]);
    },
  });
  await sleep(SETTLE_MS);
  const session = await readSession(redis, key);
  let stored = 0;
  let keys = 0;
  for (let n = 0; n < CONNECTIONS; n++) {
    const v = session[`k${n}`];
    if (typeof v === 'number') {
      stored += v;
      keys++;
    }
  }
  return { acknowledged: r['2xx'], stored, lost: r['2xx'] - stored, keysPresent: keys, bad: r.non2xx + r.errors + r.timeouts };
}

function versions() {
  const pkgs = ['@nestjs/core', '@nestjs/platform-express', '@nestjs/platform-fastify', 'express', 'fastify', 'express-session', 'connect-redis', '@fastify/session', '@fastify/cookie', 'ioredis', 'autocannon', 'typescript'];
  const out = { 'nestjs-redis-sessions': JSON.parse(readFileSync(new URL('../package.json', import.meta.url))).version };
  for (const p of pkgs) out[p] = JSON.parse(readFileSync(new URL(`../node_modules/${p}/package.json`, import.meta.url))).version;
  out.node = process.version;
  out['redis-server'] = execFileSync('redis-server', ['--version']).toString().trim();
  return out;
}

const started = Date.now();
mkdirSync(RESULTS, { recursive: true });
const redis = await startRedis();
log(`redis-server on :${redis.port}`);
const servers = [];
try {
  for (const v of VARIANTS) servers.push(await startServer(v, redis.url));
  log(`servers up: ${servers.map((s) => `${s.variant}:${s.port}`).join(' ')}`);

  const counts = {};
  const store = {};
  for (const s of servers) {
    counts[s.variant] = {};
    for (const c of COUNT_CASES) {
      await redis.client.flushdb();
      const cookie = c.cookie ? await cookieFor(s.variant, s.port) : undefined;
      counts[s.variant][c.name] = await countCommands(redis.client, s.port, c.path, cookie, COUNT_N);
    }
    if (isSession(s.variant)) store[s.variant] = await storage(redis.client, s.port);
    log(`counts ${s.variant}: ${COUNT_CASES.map((c) => `${c.name}=${counts[s.variant][c.name].roundTripsPerRequest}`).join(' ')}`);
  }

  const runs = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const route of ROUTES) {
      // Even rounds run the variants in reverse, so no variant always follows the same neighbour.
      const measured = servers.filter((server) => routesOf(server.variant).includes(route));
      for (const s of round % 2 === 0 ? measured.reverse() : measured) {
        const r = await throughputRun(redis.client, s, route);
        runs.push({ round, route, variant: s.variant, ...r });
        log(`round ${round} /${route} ${s.variant}: ${Math.round(r.rps)} req/s p99 ${r.p99} ms, server ${r.serverUs.toFixed(1)} µs/req, redis ${r.redisUs.toFixed(1)} µs/req, bad ${r.bad}, background CPU ${Math.round(100 * (r.background ?? 0))}%`);
      }
    }
  }

  // One connection, one request at a time: what a request waits for when the server is not
  // saturated, where a round trip saved shows as latency rather than throughput.
  const sequential = {};
  for (const s of servers.filter((server) => /^(floor|lib|lib-cache)-fastify$|^fastify-session$/.test(server.variant))) {
    await redis.client.flushdb();
    const cookie = await cookieFor(s.variant, s.port);
    await cannon(s.port, '/read', cookie, 1, { connections: 1 });
    const r = await cannon(s.port, '/read', cookie, DURATION, { connections: 1 });
    sequential[s.variant] = { rps: r.requests.average, meanMs: r.latency.average };
    log(`sequential /read ${s.variant}: ${Math.round(r.requests.average)} req/s, mean ${r.latency.average} ms`);
  }

  const lost = {};
  for (const s of servers.filter((s) => isSession(s.variant))) {
    lost[s.variant] = await crossKeyLost(redis.client, s);
    log(`cross-key ${s.variant}: lost ${lost[s.variant].lost} of ${lost[s.variant].acknowledged}`);
  }

  const results = {
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    config: { ROUNDS, DURATION, WARMUP, CONNECTIONS, COUNT_N, LOST_N, VARIANTS, ROUTES },
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: +(os.totalmem() / 2 ** 30).toFixed(1), kernel: `${os.type()} ${os.release()}` },
    versions: versions(),
    countCases: COUNT_CASES,
    counts,
    storage: store,
    runs,
    sequential,
    lost,
  };
  writeFileSync(new URL('results.json', RESULTS), JSON.stringify(results, null, 2));
  render(results);
  log(`done in ${results.seconds.toFixed(0)} s: bench/RESULTS.md, bench/chart.svg, bench/results/results.json`);
} finally {
  for (const s of servers) await s.stop();
  await redis.stop();
}
