#!/usr/bin/env node
/**
 * `nestjs-redis-sessions-migrate`: moves every express-session / @fastify/session session stored by
 * connect-redis into nestjs-redis-sessions, ahead of (or after) switching, so the request path
 * finds them under their derived ids. Safe to interrupt and to re-run.
 *
 * The secret is read from REDIS_SESSIONS_SECRET only: a command line is visible to every user of
 * the machine (`ps`), and so is a password in `--url`. The application's other REDIS_SESSIONS_*
 * settings are read the same way (its url, prefixes, timeouts, hashed_keys), so the CLI moves
 * sessions to where the application will look; options override them.
 */
import { Cluster, Redis } from 'ioredis';
import { parseArgs } from 'node:util';
import { sessionOptionsFromSettings } from '../config/session-settings.js';
import { DEFAULT_KEY_PREFIX, DEFAULT_TIMEOUT } from '../redis-session.constants.js';
import { InvalidSessionOptionsError } from '../session.errors.js';
import { migrateLegacySessions, type MigrateLegacyStats } from './migrate-legacy-sessions.js';

const USAGE = `Usage: nestjs-redis-sessions-migrate [options]

Moves connect-redis sessions (express-session, @fastify/session) into nestjs-redis-sessions, each
under the id derived from its legacy id, with its remaining TTL. Create-only-if-absent: safe to
interrupt (Ctrl-C stops after the batch in progress) and to run again.

Options (each defaults to the application's setting in the environment, then to its default):
  --url <url>               Redis URL ($REDIS_SESSIONS_URL, else redis://127.0.0.1:6379)
  --cluster <host:port,…>   Redis Cluster seed nodes, instead of --url (every master is scanned)
  --legacy-prefix <prefix>  connect-redis key prefix ($REDIS_SESSIONS_LEGACY_PREFIX, else sess:)
  --prefix <prefix>         nestjs-redis-sessions key prefix ($REDIS_SESSIONS_PREFIX, else session:)
  --timeout <seconds>       TTL of legacy sessions that have none ($REDIS_SESSIONS_TIMEOUT, else 1200)
  --absolute-timeout <s>    absolute timeout of moved sessions, counted from the move
                            ($REDIS_SESSIONS_ABSOLUTE_TIMEOUT, else none)
  --hashed-keys             store under hashed keys ($REDIS_SESSIONS_HASHED_KEYS, else off):
                            must match the application, or it will not find the moved sessions
  (values are stored encrypted when $REDIS_SESSIONS_ENCRYPTION_KEY is set, as the application does)
  --count <n>               SCAN COUNT, about the batch size (default: 1000)
  --keep                    keep the legacy keys (default: delete each one once moved)
  --dry-run                 count what would happen, change nothing
  --progress-every <n>      a progress line every n keys (default: 10000), and at most every second
  --help                    this text

Environment: the application's REDIS_SESSIONS_* settings, checked as the application checks them.
  REDIS_SESSIONS_SECRET     required: the application's current signing secret (at least 32 characters)

Prints progress on stderr and a JSON summary on stdout.
Exit codes: 0 done, 1 Redis failed (re-run to finish), 2 bad usage, 130 interrupted (re-run to finish).
`;

class UsageError extends Error {}

function positive(name: string, text: string | undefined, fallback?: number): number | undefined {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    throw new UsageError(`--${name} must be a positive whole number`);
  return value;
}

function connect(url: string | undefined, cluster: string | undefined): Redis | Cluster {
  // No retrying forever: a migration that cannot reach Redis should fail and say so.
  const retryStrategy = (attempt: number) => (attempt > 3 ? null : 200 * attempt);
  const options = {
    maxRetriesPerRequest: 2,
    connectTimeout: 10_000,
    lazyConnect: true,
    retryStrategy,
  };
  if (cluster === undefined) return new Redis(url ?? 'redis://127.0.0.1:6379', options);
  const nodes = cluster.split(',').map((address) => {
    const [host, port] = address.trim().split(':');
    if (!host || !Number(port)) throw new UsageError(`--cluster: "${address}" is not host:port`);
    return { host, port: Number(port) };
  });
  return new Cluster(nodes, {
    redisOptions: options,
    lazyConnect: true,
    clusterRetryStrategy: retryStrategy,
  });
}

/** A Redis URL fit to print: its password replaced. */
function redacted(url: string | undefined): string {
  if (url === undefined) return 'redis://127.0.0.1:6379';
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the configured URL';
  }
}

function line(stats: MigrateLegacyStats, startedAt: number): string {
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  const verb = stats.dryRun ? 'would move' : 'moved';
  return (
    `${stats.scanned} scanned, ${stats.moved} ${verb}, ${stats.skipped} already moved, ` +
    `${stats.expired} expired, ${stats.empty} empty, ${stats.corrupt} corrupt (${seconds} s)`
  );
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      url: { type: 'string' },
      cluster: { type: 'string' },
      'legacy-prefix': { type: 'string' },
      prefix: { type: 'string' },
      timeout: { type: 'string' },
      'absolute-timeout': { type: 'string' },
      count: { type: 'string' },
      keep: { type: 'boolean' },
      'hashed-keys': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'progress-every': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // The application's own settings, with its checks: a secret too short fails here as it would there.
  let app: ReturnType<typeof sessionOptionsFromSettings>;
  try {
    app = sessionOptionsFromSettings(process.env);
  } catch (error) {
    if (error instanceof InvalidSessionOptionsError) throw new UsageError(error.message);
    throw error;
  }
  const { secret } = app;
  if (values.url !== undefined && values.cluster !== undefined) {
    throw new UsageError('give --url or --cluster, not both');
  }
  const every = positive('progress-every', values['progress-every'], 10_000)!;
  const settings = {
    legacyPrefix: values['legacy-prefix'] ?? app.legacy?.prefix ?? 'sess:',
    prefix: values.prefix ?? app.prefix ?? DEFAULT_KEY_PREFIX,
    timeout: positive('timeout', values.timeout, app.timeout ?? DEFAULT_TIMEOUT),
    absoluteTimeout: positive('absolute-timeout', values['absolute-timeout'], app.absoluteTimeout),
    hashedKeys: values['hashed-keys'] ?? app.hashedKeys ?? false,
    // From the environment only, as the secret: a key on the command line is visible to `ps`.
    encryptionKey: app.encryptionKey,
    count: positive('count', values.count, 1000),
    keep: values.keep ?? false,
    dryRun: values['dry-run'] ?? false,
  };
  const url = values.url ?? app.redis?.url;
  const client = connect(url, values.cluster);
  // Without a listener ioredis prints every connection error itself; the last one is told below.
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  const abort = new AbortController();
  const stop = () => {
    process.stderr.write('Stopping after the batch in progress…\n');
    abort.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const startedAt = Date.now();
  let lastAt = startedAt;
  let lastCount = 0;
  try {
    await client.connect().catch((error: Error) => {
      // ioredis rejects with "Connection is closed."; the reason is in the last error event.
      const reason = lastError?.message ?? error.message;
      throw new Error(`cannot reach Redis at ${values.cluster ?? redacted(url)}: ${reason}`);
    });
    process.stderr.write(
      `${settings.dryRun ? 'Dry run: ' : ''}moving ${settings.legacyPrefix}* to ${settings.prefix}*` +
        `${settings.hashedKeys ? ' (hashed keys)' : ''}` +
        `${settings.encryptionKey ? ' (values encrypted)' : ''}` +
        `${settings.keep ? ' (keeping the legacy keys)' : ''}\n`,
    );
    const stats = await migrateLegacySessions({
      client,
      secret,
      ...settings,
      signal: abort.signal,
      onProgress: (progress) => {
        const now = Date.now();
        if (progress.scanned - lastCount < every && now - lastAt < 1000) return;
        lastAt = now;
        lastCount = progress.scanned;
        process.stderr.write(`${line(progress, startedAt)}\n`);
      },
    });
    process.stderr.write(
      `${stats.interrupted ? 'Interrupted' : 'Done'}: ${line(stats, startedAt)}\n`,
    );
    process.stdout.write(`${JSON.stringify(stats)}\n`);
    return stats.interrupted ? 130 : 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    client.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    const usage =
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`nestjs-redis-sessions-migrate: ${error.message}\n`);
    if (usage) process.stderr.write('Run with --help for the options.\n');
    process.exitCode = usage ? 2 : 1;
  },
);
