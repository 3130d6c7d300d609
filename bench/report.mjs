// Renders results/results.json into RESULTS.md and chart.svg; `node bench/report.mjs` re-renders.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (p) => new URL(p, import.meta.url);
const ADAPTERS = [
  { name: 'Express', bare: 'bare-express', rt: 'rt-express', floor: 'floor-express', peer: 'express-session', lib: 'lib-express', route: 'lib-route-express', readVsPeer: 1.5, writeVsPeer: 1.5 },
  { name: 'Fastify', bare: 'bare-fastify', rt: 'rt-fastify', floor: 'floor-fastify', peer: 'fastify-session', lib: 'lib-fastify', route: 'lib-route-fastify', cache: 'lib-cache-fastify', readVsPeer: 2, writeVsPeer: 1.8 },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const x2 = (n) => `${n.toFixed(2)}×`;
const num = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(3));
const breakdown = (o) =>
  Object.entries(o)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k.toUpperCase()} ${num(v)}`)
    .join(' + ') || 'none';

function summarise(results) {
  const cell = {};
  for (const r of results.runs) ((cell[r.variant] ??= {})[r.route] ??= []).push(r);
  const med = (v, route) => median((cell[v]?.[route] ?? []).map((r) => r.rps));
  // Ratio per round as well as of medians: the spread says how much one run can be trusted.
  const perRound = (a, b, route) => {
    const rounds = (cell[a]?.[route] ?? []).map((r) => r.round);
    return rounds.map((round) => {
      const ra = cell[a][route].find((r) => r.round === round).rps;
      const rb = cell[b][route].find((r) => r.round === round).rps;
      return ra / rb;
    });
  };
  const cpu = (v, route) => {
    const xs = (cell[v]?.[route] ?? []).map((r) => r.serverUs).filter((x) => x !== undefined);
    return xs.length ? median(xs) : undefined;
  };
  return { cell, med, perRound, cpu };
}

function targets(results, s) {
  const rows = [];
  const ratio = (what, a, b, route, goal) => {
    if (!s.cell[a]?.[route] || !s.cell[b]?.[route]) return;
    const value = s.med(a, route) / s.med(b, route);
    const rounds = s.perRound(a, b, route);
    rows.push({
      what,
      goal: `≥ ${goal}×`,
      value: x2(value),
      detail: `${fmt(s.med(a, route))} / ${fmt(s.med(b, route))} req/s; per round ${rounds.map((r) => r.toFixed(2)).join(', ')}${s.cpu(a, route) ? `; server CPU ${s.cpu(a, route).toFixed(0)} vs ${s.cpu(b, route).toFixed(0)} µs/req (cost ratio ${x2(s.cpu(b, route) / s.cpu(a, route))})` : ''}`,
      met: value >= goal,
    });
  };
  for (const a of ADAPTERS) {
    // Issue 13's targets: against the floor (the same round trips as plain ioredis commands plus
    // a no-op global interceptor), against the peer, and the lean mode against bare Nest.
    ratio(`${a.name} /read vs floor`, a.lib, a.floor, 'read', 0.9);
    ratio(`${a.name} /read vs ${a.peer}`, a.lib, a.peer, 'read', a.readVsPeer);
    ratio(`${a.name} /write vs floor`, a.lib, a.floor, 'write', 0.9);
    ratio(`${a.name} /write vs ${a.peer}`, a.lib, a.peer, 'write', a.writeVsPeer);
    ratio(`${a.name} /none (cookie) vs floor`, a.lib, a.floor, 'none', 0.97);
    ratio(`${a.name} /none (cookie) vs bare Nest, globalInterceptor: false`, a.route, a.bare, 'none', 0.97);
    ratio(`${a.name} /read vs round trips alone, globalInterceptor: false`, a.route, a.rt, 'read', 0.85);
    if (a.cache) {
      ratio(`${a.name} /read vs floor, nearCache (opt-in)`, a.cache, a.floor, 'read', 0.9);
      ratio(`${a.name} /read vs ${a.peer}, nearCache (opt-in)`, a.cache, a.peer, 'read', a.readVsPeer);
    }
  }
  for (const a of ADAPTERS) {
    const c = results.counts[a.lib];
    if (!c) continue;
    for (const kase of results.countCases) {
      const got = c[kase.name].roundTripsPerRequest;
      rows.push({
        what: `${a.name} round trips: ${kase.name}${kase.cookie ? ' (cookie)' : ''}`,
        goal: `= ${kase.budget}`,
        value: num(got),
        detail: breakdown(c[kase.name].roundTrips),
        met: got === kase.budget,
      });
    }
  }
  for (const a of ADAPTERS) {
    const l = results.lost[a.lib];
    if (l) rows.push({ what: `${a.name} cross-key lost updates`, goal: '= 0', value: String(l.lost), detail: `${fmt(l.stored)} stored of ${fmt(l.acknowledged)} acknowledged`, met: l.lost === 0 });
  }
  for (const a of ADAPTERS) {
    const mine = results.storage[a.lib];
    const peer = results.storage[a.peer];
    if (mine && peer) {
      rows.push({
        what: `${a.name} Redis MEMORY USAGE per session`,
        goal: `≤ ${peer.memoryUsage} B (${a.peer})`,
        value: `${mine.memoryUsage} B`,
        detail: `${x2(mine.memoryUsage / peer.memoryUsage)} of the peer; value bytes ${mine.valueBytes} vs ${peer.valueBytes}`,
        met: mine.memoryUsage <= peer.memoryUsage,
      });
    }
  }
  return rows;
}

function chart(results, s) {
  const W = 960;
  const H = 360;
  const panelW = W / 2;
  const top = 50;
  const bottom = 60;
  const plotH = H - top - bottom;
  const colors = { bare: '#9e9e9e', peer: '#e07b39', lib: '#2b7bb9' };
  const routes = results.config.ROUTES;
  let out = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 30}" viewBox="0 0 ${W} ${H + 30}" font-family="sans-serif" font-size="11">\n`;
  out += `<rect width="100%" height="100%" fill="#fff"/>\n`;
  out += `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">req/s, median of ${results.config.ROUNDS} rounds (50 connections, ${results.config.DURATION} s)</text>\n`;
  ADAPTERS.forEach((a, p) => {
    const x0 = p * panelW + 50;
    const innerW = panelW - 70;
    const trio = [['bare', a.bare], ['peer', a.peer], ['lib', a.lib]];
    const max = Math.max(...routes.flatMap((r) => trio.map(([, v]) => s.med(v, r) || 0)));
    const scale = plotH / (max * 1.1);
    out += `<text x="${x0 + innerW / 2}" y="${top - 14}" text-anchor="middle" font-size="13" font-weight="bold">Nest on ${a.name}</text>\n`;
    for (let t = 0; t <= 4; t++) {
      const val = (max * 1.1 * t) / 4;
      const y = top + plotH - val * scale;
      out += `<line x1="${x0}" x2="${x0 + innerW}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#eee"/><text x="${x0 - 4}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#666">${(val / 1000).toFixed(max < 20000 ? 1 : 0)}k</text>\n`;
    }
    const groupW = innerW / routes.length;
    const barW = (groupW - 16) / 3;
    routes.forEach((route, g) => {
      trio.forEach(([kind, v], b) => {
        const val = s.med(v, route) || 0;
        const h = val * scale;
        const x = x0 + g * groupW + 8 + b * barW;
        const y = top + plotH - h;
        out += `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${colors[kind]}"><title>${v} /${route}: ${fmt(val)} req/s</title></rect>\n`;
        out += `<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="9">${(val / 1000).toFixed(1)}</text>\n`;
      });
      out += `<text x="${(x0 + g * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle">/${route}</text>\n`;
    });
    out += `<line x1="${x0}" x2="${x0 + innerW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>\n`;
    trio.forEach(([kind, v], i) => {
      const lx = x0 + i * (innerW / 3);
      out += `<rect x="${lx}" y="${top + plotH + 30}" width="10" height="10" fill="${colors[kind]}"/><text x="${lx + 14}" y="${top + plotH + 39}">${v}</text>\n`;
    });
  });
  out += `<text x="${W / 2}" y="${H + 20}" text-anchor="middle" fill="#666">bar labels in thousands of req/s; panels have their own scale</text>\n`;
  return out + '</svg>\n';
}

export function render(results) {
  const s = summarise(results);
  const variants = results.config.VARIANTS;
  const routes = results.config.ROUTES;
  const c = results.config;
  const L = [];
  L.push('# Benchmark: nestjs-redis-sessions against the peers', '');
  L.push(`Generated by \`npm run bench\` (bench/run.mjs, rendered by bench/report.mjs) on ${results.startedAt}; the measuring part took ${Math.round(results.seconds)} s.`, '');
  L.push(`Machine: ${results.machine.cpus} vCPU (${results.machine.cpu}), ${results.machine.memGiB} GiB RAM, ${results.machine.kernel}, Node ${results.versions.node}. autocannon, the Nest servers and redis-server share these cores.`, '');
  L.push(`Method: the bench starts its own redis-server on a free port and one Nest server per variant (child processes, 127.0.0.1). Throughput: for each of ${c.ROUNDS} rounds, each route, each variant in turn (in reverse order on even rounds), FLUSHDB, GET /login for a cookie (not for /login itself), ${c.WARMUP} s warm-up, then autocannon with ${c.CONNECTIONS} connections for ${c.DURATION} s; median over rounds (with 2 rounds, the mean). Counts: exactly ${c.COUNT_N} sequential requests per case; \`INFO commandstats\` before and after gives every command Redis ran, including those inside Lua scripts; \`MONITOR\` tags script-internal commands \`lua\`, so **round trips** = the commands the server sent (EVALSHA/EVAL and plain commands). Lost updates: ${c.CONNECTIONS} connections each incrementing its own key \`k<n>\` of one session (GET /write/:n), ${fmt(c.LOST_N)} requests in all; lost = 2xx responses − sum of the stored \`k<n>\`.`, '');
  L.push('Variants: `bare-*` no sessions (handler gets a throwaway object); `express-session` = express-session 1.19 (resave:false, saveUninitialized:false) + connect-redis 10 over ioredis through a 1:1 shim (`bench/src/ioredis-shim.ts`); `fastify-session` = @fastify/cookie + @fastify/session (saveUninitialized:false, cookie.secure:false) with the same store; `lib-*` = `RedisSessionModule.forRoot({ secret, redis: { url } })`, defaults otherwise (the interceptor is global); `lib-route-*` = the same with `globalInterceptor: false` and nothing else (the lean mode: `@Session()` loads by itself), measured on /none and /read only; `lib-cache-fastify` = `lib-fastify` with `nearCache: 10000` (opt-in: reads of a session this process holds send nothing), /none and /read only; `rt-*` = the round trips alone (plain ioredis HGETALL, HGETALL + HSET in the handler) and `floor-*` = the same behind a no-op global interceptor, both reading a hash that holds what a logged-in session holds (a creation time and the 208-byte user). Peers use a default ioredis client; the library makes its own (no offline queue, command timeout, auto-pipelining off).', '');

  L.push('## Targets', '', '| target | goal | measured | detail | met |', '|---|---|---:|---|:-:|');
  for (const t of targets(results, s)) L.push(`| ${t.what} | ${t.goal} | ${t.value} | ${t.detail} | ${t.met ? 'yes' : '**no**'} |`);
  L.push('');

  L.push('## Throughput (req/s, median)', '', '![req/s per variant and route](chart.svg)', '');
  L.push(`| variant | ${routes.map((r) => `/${r}`).join(' | ')} |`, `|---|${routes.map(() => '---:').join('|')}|`);
  for (const v of variants) L.push(`| ${v} | ${routes.map((r) => fmt(s.med(v, r))).join(' | ')} |`);
  L.push('');
  const bg = results.runs.map((x) => x.background).filter((x) => x !== undefined);
  if (bg.length) {
    L.push(`Background CPU (the whole machine's busy share, sampled for 0.3 s before each run while the bench itself was idle; other sessions share this box): median ${(100 * median(bg)).toFixed(0)}%, max ${(100 * Math.max(...bg)).toFixed(0)}%. Runs with a high figure were measured with less than the full machine; ratios are taken within a round to limit the effect.`, '');
  }
  L.push('Server CPU and Redis CPU are CPU time per request during the measured run (the server process from /proc, redis-server from `INFO cpu`): the cost of each variant, which moves far less than req/s when other work shares the machine.', '');
  L.push('| variant | route | req/s median | range | p50 ms | p99 ms | server CPU µs/req | Redis CPU µs/req | errors+non2xx | same-key lost on /write | background CPU per round |', '|---|---|---:|---|---:|---:|---:|---:|---:|---|---|');
  for (const v of variants) {
    for (const r of routes) {
      const runs = s.cell[v]?.[r] ?? [];
      if (!runs.length) continue;
      const rps = runs.map((x) => x.rps);
      const lost = r === 'write' && runs[0].sameKeyLost !== undefined ? runs.map((x) => `${fmt(x.sameKeyLost)} of ${fmt(x.ok)}`).join('; ') : '';
      L.push(`| ${v} | /${r} | ${fmt(median(rps))} | ${fmt(Math.min(...rps))}–${fmt(Math.max(...rps))} | ${median(runs.map((x) => x.p50))} | ${median(runs.map((x) => x.p99))} | ${runs[0].serverUs === undefined ? '' : median(runs.map((x) => x.serverUs)).toFixed(1)} | ${runs[0].redisUs === undefined ? '' : median(runs.map((x) => x.redisUs)).toFixed(1)} | ${runs.reduce((a, x) => a + x.bad, 0)} | ${lost} | ${runs.map((x) => (x.background === undefined ? '?' : `${Math.round(100 * x.background)}%`)).join(', ')} |`);
    }
  }
  L.push('', 'autocannon reports latency in whole milliseconds (p50 0 = under 1 ms). Same-key loss: all 50 connections increment the same `counter`; for the library that is last-write-wins per key, as documented.', '');

  if (results.sequential && Object.keys(results.sequential).length) {
    L.push(`## One request at a time (/read, 1 connection, ${c.DURATION} s)`, '', 'Where the server is not saturated, a round trip saved is latency saved.', '', '| variant | req/s | mean latency ms |', '|---|---:|---:|');
    for (const [v, x] of Object.entries(results.sequential)) L.push(`| ${v} | ${fmt(x.rps)} | ${x.meanMs} |`);
    L.push('');
  }

  L.push(`## Redis commands per request (${c.COUNT_N} sequential requests)`, '', '| variant | case | round trips | round trips by command | total commands (commandstats) | total by command | Set-Cookie |', '|---|---|---:|---|---:|---|:-:|');
  for (const v of variants) {
    for (const k of results.countCases) {
      const x = results.counts[v]?.[k.name];
      if (!x) continue;
      L.push(`| ${v} | ${k.name}${k.cookie ? ' (cookie)' : ''} | ${num(x.roundTripsPerRequest)} | ${breakdown(x.roundTrips)} | ${num(x.totalPerRequest)} | ${breakdown(x.total)} | ${x.setCookie ? 'yes' : 'no'} |`);
    }
  }
  L.push('');

  L.push('## What one /login leaves behind', '', '| variant | key | type (encoding) | value bytes | MEMORY USAGE bytes | TTL s | cookie bytes (name=value) | cookie attributes |', '|---|---|---|---:|---:|---:|---:|---|');
  for (const [v, x] of Object.entries(results.storage)) {
    L.push(`| ${v} | \`${x.key}\` (${x.keyBytes} B) | ${x.type} (${x.encoding}) | ${x.valueBytes} | ${x.memoryUsage} | ${x.ttl} | ${x.cookieBytes} | ${x.cookieAttributes} |`);
  }
  const tuned = Object.entries(results.storage).filter(([, x]) => x.tuned && x.type === 'hash');
  if (tuned.length) {
    L.push('', `With \`${tuned[0][1].tuned.setting}\` on the Redis server (default 64: one value over 64 bytes turns the whole hash into a hashtable): ${tuned.map(([v, x]) => `${v} ${x.tuned.memoryUsage} B (${x.tuned.encoding})`).join(', ')}.`);
  }
  L.push('', 'Value bytes: the JSON string for the peers; the sum of field names and values for the library\'s hash (its `$c` creation-time field included). MEMORY USAGE includes the key name and Redis overhead.', '');

  L.push('## Lost updates, cross-key', '', '| variant | 2xx responses | sum of stored k<n> | lost | keys present | errors+non2xx |', '|---|---:|---:|---:|---:|---:|');
  for (const [v, x] of Object.entries(results.lost)) {
    L.push(`| ${v} | ${fmt(x.acknowledged)} | ${fmt(x.stored)} | ${fmt(x.lost)} (${((100 * x.lost) / x.acknowledged).toFixed(1)}%) | ${x.keysPresent} of ${c.CONNECTIONS} | ${x.bad} |`);
  }
  L.push('');

  L.push('## Versions', '', '| component | version |', '|---|---|');
  for (const [k, v] of Object.entries(results.versions)) L.push(`| ${k} | ${v} |`);
  L.push('');
  L.push('## Reproduce', '', '```sh', 'npm ci', 'npm run bench          # builds the library and bench/, starts its own redis-server, about 7 min on 2 cores', 'node bench/report.mjs  # re-render RESULTS.md and chart.svg from bench/results/results.json', 'node bench/profile.mjs lib-fastify read   # CPU profile of one variant and route, top self-time functions', 'node bench/ab.mjs lib-fastify read 3 /work/main /tmp/copy   # same variant from two checkouts, alternating', '```', '');
  L.push('Knobs (env): `ROUNDS` (2), `DURATION` (5), `WARMUP` (2), `CONNECTIONS` (50), `COUNT_N` (1000), `LOST_N` (10000), `SETTLE_MS` (400), `VARIANTS`, `ROUTES`. Side variant for experiments (not in the default matrix): `memory-express`/`memory-fastify` (the library with `MemorySessionStore`).', '');
  const notes = here('./notes.md');
  if (existsSync(notes)) L.push(readFileSync(notes, 'utf8'));
  writeFileSync(here('./RESULTS.md'), L.join('\n'));
  writeFileSync(here('./chart.svg'), chart(results, s));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  render(JSON.parse(readFileSync(here('./results/results.json'), 'utf8')));
}
