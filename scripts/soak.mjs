#!/usr/bin/env node
/**
 * Soak test (SECURITY-CASES 52 and 55), NOT part of `npm test`.
 *
 *   npm run build && node scripts/soak.mjs
 *   SOAK_CONNECTIONS=200 SOAK_DURATION=60 SOAK_PAUSE=5 node scripts/soak.mjs   # the full run
 *   SOAK_DURATION=20 SOAK_ADAPTER=fastify node scripts/soak.mjs                # a quick try
 *
 * Environment (defaults in brackets): SOAK_CONNECTIONS [200], SOAK_DURATION seconds [20],
 * SOAK_PAUSE seconds of SIGSTOP on Redis [5], SOAK_PAUSE_AT seconds into the run [duration/3],
 * SOAK_ADAPTER express|fastify [express], SOAK_SOCKET_TIMEOUT seconds [1], SOAK_DIST [dist/esm].
 *
 * Starts its own redis-server (loopback, free port, no persistence) and the application in a child
 * process (so the application's RSS is its own), then drives GET /rw (loads the session and writes
 * it) with autocannon; every connection keeps its own session cookie. Mid-run, Redis is SIGSTOPped
 * for SOAK_PAUSE seconds. Reports: requests, req/s, errors and non-2xx, latency, app RSS at start
 * and end, Redis connected_clients over time, Redis key count vs distinct sessions created, the
 * slowest answer during the pause versus the budget, and how long throughput took to recover after
 * SIGCONT. Exit code 1 when an invariant fails (a request outside the pause failed, a key leaked,
 * the pause's failures exceeded the budget, or throughput did not recover).
 */
import { fork, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const env = (name, fallback) => (process.env[name] === undefined ? fallback : process.env[name]);
const CONNECTIONS = Number(env('SOAK_CONNECTIONS', 200));
const DURATION = Number(env('SOAK_DURATION', 20));
const PAUSE = Number(env('SOAK_PAUSE', 5));
const PAUSE_AT = Number(env('SOAK_PAUSE_AT', Math.max(3, Math.floor(DURATION / 3))));
const ADAPTER = env('SOAK_ADAPTER', 'express');
const SOCKET_TIMEOUT = Number(env('SOAK_SOCKET_TIMEOUT', 1));
const DIST = resolve(here, '..', env('SOAK_DIST', 'dist/esm'));
const PREFIX = 'soak:';

// ------------------------------------------------------------------------------------------
// Server mode: the application under test, in its own process.
if (process.argv[2] === '--server') {
  await import('reflect-metadata');
  const { Controller, Get, Inject, Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const lib = await import(pathToFileURL(resolve(DIST, 'index.js')).href);
  const { RedisSessionModule, Session, SessionService } = lib;
  const redisPort = Number(process.argv[3]);

  class SoakController {
    constructor(sessions) {
      this.sessions = sessions;
    }
    none() {
      return { ok: true };
    }
    rw(session) {
      session.counter = (session.counter ?? 0) + 1;
      session.seen = Date.now();
      return { counter: session.counter };
    }
  }
  Inject(SessionService)(SoakController, undefined, 0);
  Session()(SoakController.prototype, 'rw', 0);
  for (const [name, path] of [
    ['none', 'none'],
    ['rw', 'rw'],
  ]) {
    Get(path)(
      SoakController.prototype,
      name,
      Object.getOwnPropertyDescriptor(SoakController.prototype, name),
    );
  }
  Controller()(SoakController);
  class SoakModule {}
  Module({
    imports: [
      RedisSessionModule.forRoot({
        secret: 'soak-secret-soak-secret-soak-secret-0123',
        prefix: PREFIX,
        redis: { host: '127.0.0.1', port: redisPort, socketTimeout: SOCKET_TIMEOUT },
      }),
    ],
    controllers: [SoakController],
  })(SoakModule);

  let adapter;
  if (ADAPTER === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    adapter = new FastifyAdapter();
  } else {
    const { ExpressAdapter } = await import('@nestjs/platform-express');
    adapter = new ExpressAdapter();
  }
  const app = await NestFactory.create(SoakModule, adapter, { logger: ['error'] });
  // The outage logs are rate-limited by the library; keep them out of the report anyway.
  app.useLogger(false);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  process.on('message', async (message) => {
    if (message === 'rss') process.send({ rss: process.memoryUsage().rss });
    if (message === 'close') {
      await app.close();
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ port });
  await new Promise(() => {});
}

// ------------------------------------------------------------------------------------------
// Driver mode.
const { default: autocannon } = await import('autocannon');
const { Redis } = await import('ioredis');

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function startRedis(port) {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolveChild, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) {
        child.stdout.resume();
        resolveChild(child);
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code})\n${output}`)));
  });
}

const redisPort = await freePort();
const redisProcess = await startRedis(redisPort);
// Whatever happens to this script, the redis-server it started goes with it.
process.on('exit', () => redisProcess.kill('SIGKILL'));
const probe = new Redis({ host: '127.0.0.1', port: redisPort, enableOfflineQueue: true });
const server = fork(fileURLToPath(import.meta.url), ['--server', String(redisPort)], {
  stdio: 'inherit',
});
const serverPort = await new Promise((resolvePort, reject) => {
  server.once('message', (m) => resolvePort(m.port));
  server.once('exit', (code) => reject(new Error(`app exited (${code})`)));
});
const rss = () =>
  new Promise((resolveRss) => {
    server.once('message', (m) => resolveRss(m.rss));
    server.send('rss');
  });
const cleanup = async () => {
  try {
    redisProcess.kill('SIGCONT');
  } catch {}
  server.send('close');
  await new Promise((r) => server.once('exit', r));
  probe.disconnect();
  redisProcess.kill('SIGKILL');
};
process.on('SIGINT', async () => {
  await cleanup();
  process.exit(130);
});

const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const url = `http://127.0.0.1:${serverPort}`;
// Warm up JIT and connections a little, then measure from here.
await autocannon({ url: `${url}/none`, connections: 10, duration: 1 });
const rssStart = await rss();
const sessionIds = new Set();
const buckets = []; // per second: { ok, failed, maxMs }
let startedAt = Date.now();
let pausedAt = null;
let resumedAt = null;
const pauseLatencies = [];
const clientsSeries = [];

// One session per connection, made before the run (autocannon resets a request's context after
// every pass over its request list, so a cookie cannot be carried there): each connection then
// reads and writes its own session for the whole run.
const cookies = [];
for (let i = 0; i < CONNECTIONS; i += 50) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(50, CONNECTIONS - i) }, () =>
      fetch(`${url}/rw`).then((r) => r.headers.get('set-cookie')),
    ),
  );
  for (const header of batch) {
    const cookie = header.split(';')[0];
    cookies.push(cookie);
    sessionIds.add(decodeURIComponent(cookie.slice('session='.length)).split('.')[0]);
  }
}
startedAt = Date.now();
let handedOut = 0;
let replacedSessions = 0;
const instance = autocannon({
  url,
  connections: CONNECTIONS,
  duration: DURATION,
  timeout: 10,
  setupClient(client) {
    client.setHeaders({ cookie: cookies[handedOut++ % cookies.length] });
  },
  requests: [
    {
      method: 'GET',
      path: '/rw',
      onResponse(_status, _body, _context, headers) {
        // A Set-Cookie here means the connection's session was gone and a new one was made.
        const name = Object.keys(headers).find((h) => h.toLowerCase() === 'set-cookie');
        if (!name) return;
        const cookie = [headers[name]].flat().find((v) => v.startsWith('session='));
        if (cookie) {
          replacedSessions++;
          sessionIds.add(
            decodeURIComponent(cookie.split(';')[0].slice('session='.length)).split('.')[0],
          );
        }
      },
    },
  ],
});
instance.on('response', (_client, statusCode, _bytes, responseTime) => {
  const now = Date.now();
  const second = Math.floor((now - startedAt) / 1000);
  const bucket = (buckets[second] ??= { ok: 0, failed: 0, maxMs: 0 });
  if (statusCode >= 200 && statusCode < 300) bucket.ok++;
  else bucket.failed++;
  bucket.maxMs = Math.max(bucket.maxMs, responseTime);
  // Requests that started during the pause (answered up to a budget after SIGCONT).
  if (
    pausedAt !== null &&
    now - responseTime >= pausedAt &&
    (resumedAt === null || now - responseTime < resumedAt)
  ) {
    pauseLatencies.push({ ms: responseTime, status: statusCode });
  }
});

const sampler = setInterval(async () => {
  if (pausedAt !== null && resumedAt === null) return; // the probe would wait on the paused Redis
  const info = await probe.info('clients').catch(() => '');
  const clients = Number(/connected_clients:(\d+)/.exec(info)?.[1]);
  if (Number.isFinite(clients))
    clientsSeries.push({ t: Math.round((Date.now() - startedAt) / 1000), clients: clients - 1 });
}, 1000);
const pauseTimer = setTimeout(() => {
  pausedAt = Date.now();
  redisProcess.kill('SIGSTOP');
  setTimeout(() => {
    redisProcess.kill('SIGCONT');
    resumedAt = Date.now();
  }, PAUSE * 1000);
}, PAUSE_AT * 1000);

const result = await instance;
clearInterval(sampler);
clearTimeout(pauseTimer);
const rssEnd = await rss();
const keys = await probe.dbsize();
await cleanup();

// ------------------------------------------------------------------------------------------
// Report.
const pauseStartS = Math.floor((pausedAt - startedAt) / 1000);
const resumeS = (resumedAt - startedAt) / 1000;
const before = buckets.slice(1, pauseStartS).filter(Boolean);
const baseline = before.reduce((sum, b) => sum + b.ok, 0) / Math.max(1, before.length);
let recoveredS = null;
for (let s = Math.ceil(resumeS); s < buckets.length; s++) {
  if ((buckets[s]?.ok ?? 0) >= 0.8 * baseline) {
    recoveredS = s + 1 - resumeS; // the end of the first full second back at >= 80 %
    break;
  }
}
const outsidePause = buckets.filter((_b, s) => s < pauseStartS || s > Math.ceil(resumeS) + 1);
const failedOutside = outsidePause.reduce((sum, b) => sum + (b?.failed ?? 0), 0);
const budgetMs = SOCKET_TIMEOUT * 1000 + 1500;
const maxPauseMs = pauseLatencies.reduce((m, l) => Math.max(m, l.ms), 0);
const pauseFailures = pauseLatencies.filter((l) => l.status >= 300).length;
const clients = clientsSeries.map((c) => c.clients);

const report = {
  adapter: ADAPTER,
  connections: CONNECTIONS,
  durationS: DURATION,
  pause: `${PAUSE} s SIGSTOP at ${PAUSE_AT} s`,
  requests: result.requests.total,
  reqPerSec: { mean: result.requests.average, baselineBeforePause: Math.round(baseline) },
  latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  failedOutsidePauseWindow: failedOutside,
  duringPause: {
    requests: pauseLatencies.length,
    failed: pauseFailures,
    slowestMs: Math.round(maxPauseMs),
    budgetMs,
  },
  recoveryAfterSigcontS: recoveredS === null ? 'not recovered' : Number(recoveredS.toFixed(2)),
  rss: { start: mb(rssStart), end: mb(rssEnd) },
  redisConnectedClients: {
    min: Math.min(...clients),
    max: Math.max(...clients),
    series: clientsSeries.map((c) => `${c.t}s:${c.clients}`).join(' '),
  },
  keysVsSessions: {
    keys,
    distinctSessionsCreated: sessionIds.size,
    sessionsReplacedDuringRun: replacedSessions,
  },
  perSecondOk: buckets.map((b) => b?.ok ?? 0).join(' '),
};
console.log(JSON.stringify(report, null, 2));

const problems = [];
if (result.errors > 0) problems.push(`${result.errors} connection errors`);
if (failedOutside > 0) problems.push(`${failedOutside} failed requests outside the pause window`);
if (keys !== sessionIds.size)
  problems.push(`key count ${keys} != sessions created ${sessionIds.size}`);
if (maxPauseMs > budgetMs)
  problems.push(`a request during the pause took ${maxPauseMs} ms > ${budgetMs} ms`);
if (recoveredS === null || recoveredS > 5) problems.push(`throughput recovery ${recoveredS} s`);
if (problems.length > 0) {
  console.error(`SOAK FAILED: ${problems.join('; ')}`);
  process.exit(1);
}
console.log('SOAK OK');
