// Same variant and route from several checkouts, alternating, to test a src change in a copy:
//   node bench/ab.mjs lib-fastify read 3 /work/main /tmp/exp
// Each checkout needs `npm run build && npx tsc -p bench/tsconfig.json` first. Reports req/s and
// server CPU µs per request, the steadier of the two on a shared machine.
import autocannon from 'autocannon';
import { cookieFor, processCpuUs, startRedis, startServer } from './harness.mjs';

const [variant, route, rounds = '3', ...dirs] = process.argv.slice(2);
if (!dirs.length) throw new Error('usage: node bench/ab.mjs <variant> <route> <rounds> <checkout> [<checkout> ...]');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const redis = await startRedis();
const servers = [];
try {
  for (const dir of dirs) servers.push({ dir, rps: [], us: [], ...(await startServer(variant, redis.url, [], `${dir}/bench/dist/server.js`)) });
  for (let i = 0; i < Number(rounds); i++) {
    for (const s of servers) {
      await redis.client.flushdb();
      const cookie = await cookieFor(variant, s.port);
      const opts = { url: `http://127.0.0.1:${s.port}/${route}`, connections: 50, headers: route === 'login' ? {} : { cookie } };
      await autocannon({ ...opts, duration: 2 });
      const cpu0 = processCpuUs(s.child.pid);
      const r = await autocannon({ ...opts, duration: 5 });
      await sleep(400);
      s.us.push((processCpuUs(s.child.pid) - cpu0) / r.requests.total);
      s.rps.push(r.requests.average);
    }
    console.log(servers.map((s) => `${s.dir}: ${Math.round(s.rps.at(-1))} req/s ${s.us.at(-1).toFixed(1)} µs/req`).join('  |  '));
  }
  console.log(`${variant} /${route}, medians: ${servers.map((s) => `${s.dir} ${Math.round(median(s.rps))} req/s ${median(s.us).toFixed(1)} µs/req`).join('  vs  ')}`);
} finally {
  for (const s of servers) await s.stop();
  await redis.stop();
}
