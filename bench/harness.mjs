// Processes and probes shared by run.mjs and profile.mjs: own redis-server, Nest servers as
// children, one-request HTTP helper, and reading a session back whatever its storage format.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

export const SERVER = fileURLToPath(new URL('./dist/server.js', import.meta.url));

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitForLine(child, pattern, what) {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk) => {
      out += chunk;
      if (pattern.test(out)) {
        child.stdout.off('data', onData);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready:\n${out}`)));
  });
}

/** Never the shared 6379: a private, persistence-free instance on a free port. */
export async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await waitForLine(child, /Ready to accept connections/, 'redis-server');
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  await client.connect();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client,
    async stop() {
      client.disconnect();
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r()));
    },
  };
}

export async function startServer(variant, redisUrl, nodeArgs = [], server = SERVER) {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, server, variant, String(port), redisUrl], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await waitForLine(child, /ready/, `server ${variant}`);
  return {
    variant,
    port,
    child,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r()));
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** utime + stime of a process in µs, from /proc (clock ticks of 10 ms). */
export function processCpuUs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

export function get(port, path, cookie) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: cookie ? { cookie } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, setCookie: res.headers['set-cookie'] ?? [], body }));
    });
    req.on('error', reject);
  });
}

/** `name=value` of the first Set-Cookie, the part a browser sends back. */
export const cookiePair = (setCookie) => (setCookie[0] ?? '').split(';')[0];

export async function login(port) {
  const res = await get(port, '/login');
  const cookie = cookiePair(res.setCookie);
  if (res.status !== 200 || !cookie) throw new Error(`/login on :${port} gave ${res.status} without a cookie`);
  return cookie;
}

export const isSession = (variant) => !/^(bare|rt|floor)-/.test(variant);
// Bare servers get a cookie of the library's shape, so every variant receives the same request bytes.
const BARE_COOKIE = `session=${'a'.repeat(43)}.${'b'.repeat(43)}`;

/**
 * The cookie a variant's requests carry: a session variant's from its /login; the floor variants
 * get the same stored session to read (their /seed), the bare ones nothing.
 */
export async function cookieFor(variant, port) {
  if (isSession(variant)) return login(port);
  if (/^(rt|floor)-/.test(variant)) await get(port, '/seed');
  return BARE_COOKIE;
}

/** The single session key of a freshly flushed db. */
export async function onlyKey(redis) {
  const keys = await redis.keys('*');
  if (keys.length !== 1) throw new Error(`expected one key, found ${keys.length}: ${keys.slice(0, 10).join(" ")}`);
  return keys[0];
}

/** Peers store one JSON string; the library a hash of JSON fields (`$`-fields are its own). */
export async function readSession(redis, key) {
  const type = await redis.type(key);
  if (type === 'string') return JSON.parse(await redis.get(key));
  if (type === 'hash') {
    const out = {};
    for (const [field, text] of Object.entries(await redis.hgetall(key))) {
      if (!field.startsWith('$')) out[field] = JSON.parse(text);
    }
    return out;
  }
  return {};
}
