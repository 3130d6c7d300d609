/**
 * Consumer checks: the tarball `npm pack` makes, installed into two real applications the way a
 * user would install it, far from this repository's node_modules:
 * - test/consumers/nest12-esm: NestJS 12, "type": "module", compiled with NodeNext, run by Node;
 * - test/consumers/nest11-cjs: NestJS 11 laid out like `nest new` (CommonJS), with its own jest
 *   and ts-jest config untouched, so the library is loaded by jest's plain `require`.
 * Both talk to a redis-server this spec starts, named to them through REDIS_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import request from 'supertest';
import { startRedis, type RedisHandle } from './utils/redis-server.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(REPO, 'test', 'consumers');
const CONSUMERS = ['nest12-esm', 'nest11-cjs'] as const;
type Consumer = (typeof CONSUMERS)[number];
const SECRET = 'consumer-check-secret-0123456789abcdef';
const LIBRARY = 'nestjs-redis-sessions';

/** Installs need the network on a cold npm cache; everything after them takes seconds. */
const INSTALL_TIMEOUT = 240_000;
const STEP_TIMEOUT = 90_000;

interface Outcome {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment for the consumers: this process's, less what would make a child act as part
 * of this run instead of as a fresh user's shell: jest's worker id, and the variables npm sets
 * for a script when this spec runs under `npm test`, which describe this repository.
 */
function consumerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name === 'JEST_WORKER_ID' || name === 'INIT_CWD') continue;
    if (/^npm_(package|lifecycle)_/i.test(name) || /^npm_config_(local_)?prefix$/i.test(name))
      continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * Runs a command to its end and reports how it ended; never rejects on a non-zero exit, so the
 * caller decides what counts as failure. A command that outlives `timeoutMs` is killed with its
 * whole process group (npm and jest start children of their own).
 */
function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<Outcome> {
  const label = `${command} ${args.join(' ')} (in ${options.cwd})`;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? consumerEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${options.timeoutMs} ms]`;
      killGroup(child);
    }, options.timeoutMs ?? STEP_TIMEOUT);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${label}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ command: label, code, signal, stdout, stderr });
    });
  });
}

/**
 * Like Promise.all, but waits for every task before failing, so nothing is still writing into
 * the temp dir when afterAll removes it.
 */
async function settleAll<T>(tasks: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Fails with everything the command printed, which is what one needs to see when it broke. */
function expectSuccess(outcome: Outcome): Outcome {
  if (outcome.code !== 0) {
    throw new Error(
      `${outcome.command} exited with ${outcome.code ?? outcome.signal}\n` +
        `--- stdout ---\n${outcome.stdout}\n--- stderr ---\n${outcome.stderr}`,
    );
  }
  return outcome;
}

/** `node <package>/<bin>` from the consumer's own node_modules: no npx, no global tools. */
function runBin(dir: string, bin: string, args: string[], env?: NodeJS.ProcessEnv) {
  return run(process.execPath, [join(dir, 'node_modules', bin), ...args], { cwd: dir, env });
}

async function assertBuilt(): Promise<void> {
  const needed = [
    'dist/esm/index.js',
    'dist/esm/index.d.ts',
    'dist/cjs/index.js',
    'dist/cjs/index.d.ts',
  ];
  for (const file of needed) {
    try {
      await access(join(REPO, file));
    } catch {
      throw new Error(
        `${file} is missing: the consumer checks pack the built library. ` +
          'Run `npm run build` first (`npm test` does).',
      );
    }
  }
}

/** When the fixtures' versions were last chosen: npm resolves as it would have then. */
const RESOLVED_BEFORE = '2026-12-01T00:00:00Z';

async function pack(destination: string): Promise<string> {
  const outcome = expectSuccess(
    await run('npm', ['pack', '--json', '--pack-destination', destination], { cwd: REPO }),
  );
  const [{ filename }] = JSON.parse(outcome.stdout) as [{ filename: string }];
  return join(destination, basename(filename));
}

/** Copies a fixture (never anything a local run left in it) and installs it with the tarball. */
async function install(work: string, consumer: Consumer, tarball: string): Promise<string> {
  const dir = join(work, consumer);
  await cp(join(FIXTURES, consumer), dir, {
    recursive: true,
    filter: (source) => !/[\\/](node_modules|dist|coverage)$|\.tsbuildinfo$/.test(source),
  });
  expectSuccess(
    // Only versions published before the fixtures were pinned: a release still half-copied to
    // the registry (a package naming dependencies not yet there) cannot break the install, and
    // the run does not drift with every new transitive version.
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', `--before=${RESOLVED_BEFORE}`, tarball],
      {
        cwd: dir,
        timeoutMs: INSTALL_TIMEOUT,
      },
    ),
  );
  return dir;
}

/** Starts the ESM app and resolves with the JSON line it prints once it listens. */
function startEsmApp(
  dir: string,
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; ready: Promise<{ url: string; library: string; cjsLibrary: string }> } {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<{ url: string; library: string; cjsLibrary: string }>(
    (resolve, reject) => {
      let stdout = '';
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const line = stdout.split('\n').find((l) => l.startsWith('{"url"'));
        if (line) resolve(JSON.parse(line));
      });
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `the NestJS 12 app exited (${code ?? signal}) before it listened\n` +
              `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
          ),
        ),
      );
    },
  );
  return { child, ready };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return exited;
}

function sessionCookies(response: request.Response): string[] {
  const header = response.headers['set-cookie'] as unknown as string[] | string | undefined;
  const list = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return list.filter((c) => c.startsWith('session='));
}

describe('the packed library in real applications', () => {
  let work: string | undefined;
  let redis: RedisHandle | undefined;
  const dirs = {} as Record<Consumer, string>;
  const apps: ChildProcess[] = [];

  const appEnv = (consumer: Consumer) =>
    consumerEnv({
      REDIS_URL: redis!.url,
      SESSION_SECRET: SECRET,
      SESSION_PREFIX: `${redis!.prefix}${consumer}:`,
    });

  beforeAll(async () => {
    await assertBuilt();
    // Under the OS temp dir, so module resolution walking up from the apps can never reach
    // this repository's node_modules (where a second copy of Nest would hide a missing dep).
    work = await mkdtemp(join(tmpdir(), 'nestjs-redis-sessions-consumers-'));
    expect(relative(REPO, work).startsWith('..')).toBe(true);
    const [handle, tarball] = await settleAll<RedisHandle | string>([startRedis(), pack(work)]);
    redis = handle as RedisHandle;
    // The two installs are independent and dominate the run time: do them side by side.
    const [esm, cjs] = await settleAll(CONSUMERS.map((c) => install(work!, c, tarball as string)));
    dirs['nest12-esm'] = esm;
    dirs['nest11-cjs'] = cjs;
  }, INSTALL_TIMEOUT + STEP_TIMEOUT);

  afterAll(async () => {
    await Promise.all(apps.map(stop));
    await redis?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(
    'a NestJS 12 ESM app imports the ESM build and keeps a value across two requests',
    async () => {
      const dir = dirs['nest12-esm'];
      expectSuccess(await runBin(dir, 'typescript/bin/tsc', ['-p', 'tsconfig.json']));

      const { child, ready } = startEsmApp(dir, appEnv('nest12-esm'));
      apps.push(child);
      const { url, library, cjsLibrary } = await ready;
      expect(library).toBe(
        pathToFileURL(join(dir, 'node_modules', LIBRARY, 'dist', 'esm', 'index.js')).href,
      );

      const write = await request(url).get('/write').query({ value: 'from-esm' }).expect(200);
      expect(write.body).toEqual({ id: expect.any(String), isNew: true });
      const [setCookie, ...more] = sessionCookies(write);
      expect(more).toEqual([]);
      expect(setCookie).toMatch(/^session=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+;/);

      const read = await request(url)
        .get('/read')
        .set('Cookie', setCookie.split(';')[0])
        .expect(200);
      expect(read.body).toEqual({ id: write.body.id, isNew: false, value: 'from-esm' });
      expect(sessionCookies(read)).toEqual([]);
      // The app was handed this spec's Redis, and the session is really there.
      expect(await redis!.client.exists(`${redis!.prefix}nest12-esm:${write.body.id}`)).toBe(1);

      // Both builds in one process: a CommonJS dependency's routes (the CJS build's @Session()
      // and CsrfGuard) share the ESM build's sessions, tokens and commit.
      expect(cjsLibrary).toBe(join(dir, 'node_modules', LIBRARY, 'dist', 'cjs', 'index.js'));
      const cookie = setCookie.split(';')[0];
      await request(url).get('/cjs/write').set('Cookie', cookie).expect(200, { ok: true });
      const both = await request(url).get('/read').set('Cookie', cookie).expect(200);
      expect(both.body.value).toBe('from-esm');
      expect(
        await redis!.client.hget(`${redis!.prefix}nest12-esm:${write.body.id}`, 'fromCjs'),
      ).toBe('true');
      await request(url).get('/cjs/guarded').expect(200);

      // A deployed app is stopped with SIGTERM: the module's shutdown must not hold it up.
      const exited = new Promise<unknown>((resolve) =>
        child.once('exit', (code, signal) => resolve(code ?? signal)),
      );
      child.kill('SIGTERM');
      expect(await exited).toBe('SIGTERM');
    },
    STEP_TIMEOUT,
  );

  it(
    "a NestJS 11 CommonJS app's own jest suite (ts-jest, nest new config, a ws gateway, @Redirect on Fastify) passes against it",
    async () => {
      const dir = dirs['nest11-cjs'];
      const resultFile = join(dir, 'jest-result.json');
      const outcome = expectSuccess(
        await run('npm', ['test', '--', '--ci', '--json', `--outputFile=${resultFile}`], {
          cwd: dir,
          env: appEnv('nest11-cjs'),
        }),
      );
      const result = JSON.parse(await readFile(resultFile, 'utf8'));
      // A suite that found no tests, or skipped some, would also exit 0.
      expect(result).toMatchObject({ success: true, numTotalTests: 4, numPassedTests: 4 });

      const line = /ROUND_TRIP (\{.*\})/.exec(outcome.stdout + outcome.stderr);
      expect(line).not.toBeNull();
      const { id, userId } = JSON.parse(line![1]);
      expect(userId).toBe(1);
      expect(await redis!.client.exists(`${redis!.prefix}nest11-cjs:${id}`)).toBe(1);
    },
    STEP_TIMEOUT,
  );

  it(
    'plain Node require() in the CommonJS app gets the CommonJS build',
    async () => {
      const dir = dirs['nest11-cjs'];
      const script =
        `const lib = require('${LIBRARY}');` +
        `console.log(JSON.stringify({ path: require.resolve('${LIBRARY}'), ` +
        `exports: ['RedisSessionModule', 'Session', 'SessionService'].map((n) => typeof lib[n]) }));`;
      const outcome = expectSuccess(await run(process.execPath, ['-e', script], { cwd: dir }));
      expect(JSON.parse(outcome.stdout)).toEqual({
        path: join(dir, 'node_modules', LIBRARY, 'dist', 'cjs', 'index.js'),
        exports: ['function', 'function', 'function'],
      });
    },
    STEP_TIMEOUT,
  );

  it(
    'the NestJS 11 app type-checks with SessionData augmented by declaration merging',
    async () => {
      // src/session-types.check.ts holds @ts-expect-error lines that only hold when the
      // augmentation merged into the library's own interface.
      expectSuccess(
        await runBin(dirs['nest11-cjs'], 'typescript/bin/tsc', ['-p', 'tsconfig.json', '--noEmit']),
      );
    },
    STEP_TIMEOUT,
  );

  it(
    "the library's declarations compile under both Nest versions without skipLibCheck",
    async () => {
      // `nest new` sets skipLibCheck, which hides declarations naming types a Nest version
      // lacks; an app that turns it off must not inherit errors from this package. Only
      // errors inside the package count here, so another dependency's typings cannot fail it.
      const outcomes = await Promise.all(
        CONSUMERS.map((c) =>
          runBin(dirs[c], 'typescript/bin/tsc', [
            '-p',
            'tsconfig.json',
            '--noEmit',
            '--skipLibCheck',
            'false',
          ]),
        ),
      );
      for (const outcome of outcomes) {
        // A non-zero exit must come from diagnostics, not from tsc failing to run at all.
        if (outcome.code !== 0) expect(outcome.stdout).toContain('error TS');
      }
      const ownErrors = outcomes.flatMap((o) =>
        o.stdout.split('\n').filter((l) => l.includes(`node_modules/${LIBRARY}/`)),
      );
      expect(ownErrors).toEqual([]);
    },
    STEP_TIMEOUT,
  );
});
