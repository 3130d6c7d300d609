// CPU profile of one variant under load: `node bench/profile.mjs <variant> <route> [seconds]`.
// Needs `npm run build && tsc -p bench/tsconfig.json` first. Prints self time by function and by package.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { cookieFor, startRedis, startServer } from './harness.mjs';

const [variant = 'lib-fastify', route = 'read', seconds = '6'] = process.argv.slice(2);
const dir = new URL(`./results/prof/${variant}-${route}-${Date.now()}/`, import.meta.url);
mkdirSync(dir, { recursive: true });

const redis = await startRedis();
const server = await startServer(variant, redis.url, ['--cpu-prof', `--cpu-prof-dir=${dir.pathname}`]);
const cookie = await cookieFor(variant, server.port);
const url = `http://127.0.0.1:${server.port}/${route}`;
const headers = route === 'login' ? {} : { cookie };
await autocannon({ url, connections: 50, duration: 1, headers });
const r = await autocannon({ url, connections: 50, duration: Number(seconds), headers });
await server.stop();
await redis.stop();

const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
const prof = JSON.parse(readFileSync(new URL(file, dir)));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const byPackage = new Map();
let total = 0;
let idle = 0;
// Who owns a frame: a package under node_modules, the library's dist, node internals, or V8.
const owner = (url) => {
  if (!url) return '(native/V8)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.includes('/dist/esm/') || url.includes('/dist/cjs/')) return 'nestjs-redis-sessions';
  if (url.includes('/bench/dist/')) return 'bench app';
  if (url.startsWith('node:')) return 'node core';
  return url;
};
prof.samples.forEach((id, i) => {
  const node = byId.get(id);
  const dt = prof.timeDeltas[i] ?? 0;
  const { functionName, url, lineNumber } = node.callFrame;
  total += dt;
  if (functionName === '(idle)') {
    idle += dt;
    return;
  }
  const where = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/main\//, '')}:${lineNumber + 1}` : '';
  const key = `${functionName || '(anonymous)'} ${where}`;
  self.set(key, (self.get(key) ?? 0) + dt);
  const pkg = owner(url);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + dt);
});
// Inclusive time: a function's own samples plus everything it called, counted once per stack.
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map();
prof.samples.forEach((id, i) => {
  const dt = prof.timeDeltas[i] ?? 0;
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const { functionName, url, lineNumber } = byId.get(cur).callFrame;
    if (owner(url) !== 'nestjs-redis-sessions') continue;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/dist\//, 'dist/')}:${lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
  }
});
const busy = total - idle;
const pct = (v) => `${((100 * v) / busy).toFixed(1)}%`;
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
const lines = [
  `${variant} /${route}: ${Math.round(r.requests.average)} req/s under the profiler; busy ${(busy / 1e6).toFixed(1)} s of ${(total / 1e6).toFixed(1)} s`,
  '',
  'self time by owner (% of non-idle):',
  ...top(byPackage, 15).map(([k, v]) => `  ${pct(v).padStart(6)}  ${k}`),
  '',
  'top self-time functions:',
  ...top(self, 30).map(([k, v]) => `  ${pct(v).padStart(6)}  ${k}`),
  '',
  "the library's functions, inclusive (own time plus callees):",
  ...top(inclusive, 15).map(([k, v]) => `  ${pct(v).padStart(6)}  ${k}`),
];
writeFileSync(new URL('summary.txt', dir), lines.join('\n') + '\n');
console.log(lines.join('\n'));
console.log(`\nprofile: ${new URL(file, dir).pathname}`);
