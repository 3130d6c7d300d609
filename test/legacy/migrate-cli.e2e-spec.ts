import { spawn, spawnSync } from 'node:child_process';
import { createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deriveSessionId } from '../../src/legacy/legacy-session.codec.js';
import { HashedKeyStore } from '../../src/store/hashed-key.store.js';
import { freePort, scanAll, startRedis, type RedisHandle } from '../utils/redis-server.js';

/**
 * The migration CLI as an operator runs it: the built file under node, the secret from the
 * environment, exit codes. Uses dist/ when `npm run build` made it after the last change to
 * src/legacy; otherwise compiles into a scratch folder (never touching dist/).
 */

const REPO = process.cwd();
const SECRET = 'our-secret-our-secret-our-secret-0123456';
const DIST_CLI = join(REPO, 'dist/esm/legacy/migrate-cli.js');

let redis: RedisHandle;
let cli: string;
let scratch: string | undefined;

function fresh(file: string): boolean {
  if (!existsSync(file)) return false;
  const built = statSync(file).mtimeMs;
  const sources = join(REPO, 'src/legacy');
  return readdirSync(sources).every((name) => statSync(join(sources, name)).mtimeMs <= built);
}

function buildCli(): string {
  if (fresh(DIST_CLI)) return DIST_CLI;
  // Inside the repository, so that the compiled files resolve node_modules.
  scratch = join(REPO, 'node_modules/.cache', `legacy-cli-${randomUUID()}`);
  mkdirSync(scratch, { recursive: true });
  // Only the CLI and what it imports, emitted without a type check (tsc -p tsconfig.json does that).
  const config = join(scratch, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(REPO, 'tsconfig.build.json'),
      compilerOptions: { outDir: scratch, rootDir: join(REPO, 'src'), declaration: false },
      files: [join(REPO, 'src/legacy/migrate-cli.ts')],
      include: [],
    }),
  );
  const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
  const out = spawnSync(process.execPath, [tsc, '-p', config, '--noCheck'], {
    cwd: REPO,
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`tsc failed:\n${out.stdout}\n${out.stderr}`);
  writeFileSync(join(scratch, 'package.json'), '{"type":"module"}');
  return join(scratch, 'legacy/migrate-cli.js');
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  onStderr?: (text: string, stop: () => void) => void,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH, REDIS_SESSIONS_SECRET: SECRET, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
      onStderr?.(stderr, () => child.kill('SIGINT'));
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function writeSessions(legacyPrefix: string, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomBytes(24).toString('base64url'));
  const pipeline = redis.client.pipeline();
  for (const id of ids) {
    pipeline.set(legacyPrefix + id, '{"cookie":{"path":"/"},"passport":{"user":"u"}}', 'EX', 600);
  }
  await pipeline.exec();
  return ids;
}

beforeAll(async () => {
  redis = await startRedis();
  cli = buildCli();
}, 120_000);

afterAll(async () => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  await redis?.stop();
});

it('prints its help and exits 0', async () => {
  const out = await runCli(['--help'], { REDIS_SESSIONS_SECRET: '' });
  expect(out.code).toBe(0);
  expect(out.stdout).toContain('Usage: nestjs-redis-sessions-migrate');
  expect(out.stdout).toContain('REDIS_SESSIONS_SECRET');
});

it('exits 2 on bad usage: no secret, a short one, an unknown option (there is no --secret)', async () => {
  const none = await runCli(['--url', redis.url], { REDIS_SESSIONS_SECRET: '' });
  expect(none.code).toBe(2);
  expect(none.stderr).toContain('REDIS_SESSIONS_SECRET');
  expect((await runCli(['--url', redis.url], { REDIS_SESSIONS_SECRET: 'short' })).code).toBe(2);
  const flag = await runCli(['--secret', SECRET]);
  expect(flag.code).toBe(2);
  expect(flag.stderr).toContain('--help');
  expect((await runCli(['--count', 'many'])).code).toBe(2);
});

it('exits 1 when Redis does not answer, saying where it looked and why, never the password', async () => {
  const port = await freePort();
  const out = await runCli(['--url', `redis://:hunter2@127.0.0.1:${port}`]);
  expect(out.code).toBe(1);
  expect(out.stderr).toContain(
    `nestjs-redis-sessions-migrate: cannot reach Redis at redis://:***@127.0.0.1:${port}: connect ECONNREFUSED`,
  );
  expect(out.stderr).not.toContain('hunter2');
});

it('dry-runs, then moves, printing progress on stderr and a summary on stdout', async () => {
  const legacyPrefix = `${redis.prefix}sess:`;
  const prefix = `${redis.prefix}session:`;
  const ids = await writeSessions(legacyPrefix, 50);
  const args = ['--legacy-prefix', legacyPrefix, '--prefix', prefix, '--count', '10'];

  const dry = await runCli([...args, '--dry-run'], { REDIS_SESSIONS_URL: redis.url });
  expect(dry.code).toBe(0);
  expect(JSON.parse(dry.stdout)).toMatchObject({ scanned: 50, moved: 50, dryRun: true });
  expect(dry.stderr).toContain('Dry run');
  expect(await scanAll(redis.client, `${prefix}*`)).toEqual([]);

  const real = await runCli([...args, '--url', redis.url, '--progress-every', '10']);
  expect(real.code).toBe(0);
  expect(JSON.parse(real.stdout)).toMatchObject({ scanned: 50, moved: 50, dryRun: false });
  expect(real.stderr).toMatch(/scanned, \d+ moved/);
  expect(real.stderr).toContain('Done: 50 scanned, 50 moved');
  expect(real.stderr).not.toContain(SECRET);
  expect(await redis.client.exists(`${prefix}${deriveSessionId(ids[0], SECRET)}`)).toBe(1);
  expect(await scanAll(redis.client, `${legacyPrefix}*`)).toEqual([]);
});

it('stops after the batch in progress on SIGINT, exits 130, and a re-run finishes', async () => {
  const legacyPrefix = `${redis.prefix}int:sess:`;
  const prefix = `${redis.prefix}int:session:`;
  await writeSessions(legacyPrefix, 5000);
  const args = ['--url', redis.url, '--legacy-prefix', legacyPrefix, '--prefix', prefix];
  let sent = false;
  const stopped = await runCli(
    [...args, '--count', '20', '--progress-every', '1'],
    {},
    (text, stop) => {
      if (!sent && /\d+ scanned/.test(text)) {
        sent = true;
        stop();
      }
    },
  );
  expect(stopped.code).toBe(130);
  expect(stopped.stderr).toContain('Stopping after the batch in progress');
  const first = JSON.parse(stopped.stdout);
  expect(first).toMatchObject({ interrupted: true });
  expect(first.moved).toBeLessThan(5000);
  const rest = await runCli(args);
  expect(rest.code).toBe(0);
  expect(first.moved + JSON.parse(rest.stdout).moved).toBe(5000);
});

it("takes the application's settings from the environment: prefixes, timeout, hashed keys", async () => {
  const legacyPrefix = `${redis.prefix}env:sess:`;
  const prefix = `${redis.prefix}env:session:`;
  const [id] = await writeSessions(legacyPrefix, 1);
  // One with no TTL at all: it gets the application's timeout, not the CLI's own default.
  const [bare] = Array.from({ length: 1 }, () => randomBytes(24).toString('base64url'));
  await redis.client.set(legacyPrefix + bare, '{"cookie":{"path":"/"},"cart":[1]}');
  const out = await runCli([], {
    REDIS_SESSIONS_URL: redis.url,
    REDIS_SESSIONS_PREFIX: prefix,
    REDIS_SESSIONS_LEGACY_PREFIX: legacyPrefix,
    REDIS_SESSIONS_TIMEOUT: '86400',
    REDIS_SESSIONS_HASHED_KEYS: 'true',
  });
  expect(out.code).toBe(0);
  expect(JSON.parse(out.stdout)).toMatchObject({ scanned: 2, moved: 2 });
  expect(out.stderr).toContain('(hashed keys)');
  // Where an application with hashed_keys looks: never under the plain derived id.
  const hashed = new HashedKeyStore(null as never, createSecretKey(Buffer.from(SECRET)));
  const keyOf = (legacyId: string) => prefix + hashed.storeIdOf(deriveSessionId(legacyId, SECRET));
  expect(await redis.client.exists(keyOf(id))).toBe(1);
  expect(await redis.client.exists(prefix + deriveSessionId(id, SECRET))).toBe(0);
  const ttl = await redis.client.ttl(keyOf(bare));
  expect(ttl).toBeGreaterThan(86_000);
  expect(ttl).toBeLessThanOrEqual(86_400);

  // With encryption at rest on, what it moves is stored encrypted, as the application stores it.
  const encPrefix = `${redis.prefix}enc:session:`;
  const [secretId] = await writeSessions(legacyPrefix, 1);
  const encrypted = await runCli(['--prefix', encPrefix], {
    REDIS_SESSIONS_URL: redis.url,
    REDIS_SESSIONS_LEGACY_PREFIX: legacyPrefix,
    REDIS_SESSIONS_ENCRYPTION_KEY: 'c'.repeat(64),
  });
  expect(encrypted.code).toBe(0);
  expect(encrypted.stderr).toContain('(values encrypted)');
  const moved = await redis.client.hgetall(encPrefix + deriveSessionId(secretId, SECRET));
  expect(moved.passport).toMatch(/^e1\./);

  // Settings the application would refuse stop the CLI the same way, naming the setting.
  const bad = await runCli([], { REDIS_SESSIONS_URL: redis.url, REDIS_SESSIONS_TIMEOUT: 'later' });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('REDIS_SESSIONS_TIMEOUT must be a whole number, got "later"');
});
