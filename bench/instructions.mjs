// Instructions per request of one variant and route, counted by valgrind's callgrind: a figure that
// other work on the machine does not move (req/s and CPU time here swing by 30% between runs).
//   node bench/instructions.mjs <variant> <route> [requests] [checkout]
// Needs `npm run build && npx tsc -p bench/tsconfig.json` (in the checkout) and valgrind. The
// server runs under callgrind uninstrumented through start-up and a warm-up, then counts exactly
// `requests` requests (10 connections). Kernel time (the socket system calls) is not counted.
// Repeat runs of one build agree within about 3% (GC and JIT timing), so read smaller differences as noise.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

const [variant = 'lib-fastify', route = 'read', requests = '4000', checkout = new URL('..', import.meta.url).pathname] =
  process.argv.slice(2);
const { cookieFor, freePort, startRedis } = await import(join(checkout, 'bench/harness.mjs'));
const dir = mkdtempSync(join(tmpdir(), 'callgrind-'));
const redis = await startRedis();
const port = await freePort();
// One thread and a fixed young generation: background compilation and GC sizing are what else
// moves the count between runs.
const flags = ['--single-threaded', '--min-semi-space-size=16', '--max-semi-space-size=16'];
const child = spawn(
  'valgrind',
  ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${dir}/out`, process.execPath, ...flags,
    join(checkout, 'bench/dist/server.js'), variant, String(port), redis.url],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
let stderr = '';
child.stderr.on('data', (d) => (stderr += d));
try {
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => /ready/.test(String(d)) && resolve());
    child.once('exit', () => reject(new Error(`the server under valgrind exited:\n${stderr}`)));
  });
  const cookie = await cookieFor(variant, port);
  const opts = { url: `http://127.0.0.1:${port}/${route}`, connections: 10, headers: route === 'login' ? {} : { cookie }, timeout: 60 };
  await autocannon({ ...opts, amount: 2000 });
  const control = (...args) => execFileSync('callgrind_control', [...args, String(child.pid)], { stdio: 'ignore' });
  control('-i', 'on');
  const result = await autocannon({ ...opts, amount: Number(requests) });
  control('-i', 'off');
  control('-d');
  const totals = readdirSync(dir)
    .map((f) => /^totals: (\d+)/m.exec(readFileSync(join(dir, f), 'utf8'))?.[1])
    .filter(Boolean)
    .map(Number);
  const failed = result.non2xx + result.errors;
  console.log(`${variant} /${route}: ${Math.round(Math.max(...totals) / result.requests.total)} instructions per request (${result.requests.total} requests${failed ? `, ${failed} failed` : ''})`);
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r()));
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
