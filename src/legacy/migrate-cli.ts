#!/usr/bin/env node
/**
 * `nestjs-redis-sessions-migrate`: moves every express-session / @fastify/session session stored by
 * connect-redis into nestjs-redis-sessions, ahead of (or after) switching, so the request path
 * finds them under their derived ids. Safe to interrupt and to re-run.
 *
 * The secret is read from REDIS_SESSIONS_SECRET only: a command line is visible to every user of
 * the machine (`ps`), and so is a password in `--url`; REDIS_SESSIONS_URL is read too.
 */
import { Cluster, Redis } from 'ioredis';
import { parseArgs } from 'node:util';
import { migrateLegacySessions, type MigrateLegacyStats } from './migrate-legacy-sessions.js';

const USAGE = `Usage: nestjs-redis-sessions-migrate [options]

Moves connect-redis sessions (express-session, @fastify/session) into nestjs-redis-sessions, each
under the id derived from its legacy id, with its remaining TTL. Create-only-if-absent: safe to
interrupt (Ctrl-C stops after the batch in progress) and to run again.

Options:
  --url <url>               Redis URL (default: $REDIS_SESSIONS_URL, else redis://127.0.0.1:6379)
  --cluster <host:port,…>   Redis Cluster seed nodes, instead of --url (every master is scanned)
  --legacy-prefix <prefix>  connect-redis key prefix (default: sess:)
  --prefix <prefix>         nestjs-redis-sessions key prefix (default: session:)
  --timeout <seconds>       TTL of legacy sessions that have none (default: 1200)
  --absolute-timeout <s>    absolute timeout of moved sessions, counted from the move (default: none)
  --count <n>               SCAN COUNT, about the batch size (default: 1000)
  --keep                    keep the legacy keys (default: delete each one once moved)
  --dry-run                 count what would happen, change nothing
  --progress-every <n>      a progress line every n keys (default: 10000), and at most every second
  --help                    this text

Environment:
  REDIS_SESSIONS_SECRET     required: the application's current signing secret (at least 32 characters)
  REDIS_SESSIONS_URL        Redis URL when --url is not given

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
      'dry-run': { type: 'boolean' },
      'progress-every': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const secret = process.env.REDIS_SESSIONS_SECRET;
  if (secret === undefined || secret.length < 32) {
    throw new UsageError(
      'REDIS_SESSIONS_SECRET must be set to the application secret (at least 32 characters)',
    );
  }
  if (values.url !== undefined && values.cluster !== undefined) {
    throw new UsageError('give --url or --cluster, not both');
  }
  const every = positive('progress-every', values['progress-every'], 10_000)!;
  const settings = {
    legacyPrefix: values['legacy-prefix'] ?? 'sess:',
    prefix: values.prefix ?? 'session:',
    timeout: positive('timeout', values.timeout, 1200),
    absoluteTimeout: positive('absolute-timeout', values['absolute-timeout']),
    count: positive('count', values.count, 1000),
    keep: values.keep ?? false,
    dryRun: values['dry-run'] ?? false,
  };
  const client = connect(values.url ?? process.env.REDIS_SESSIONS_URL, values.cluster);
  // Without a listener ioredis prints every connection error itself; the failing command says it.
  client.on('error', () => undefined);
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
    await client.connect();
    process.stderr.write(
      `${settings.dryRun ? 'Dry run: ' : ''}moving ${settings.legacyPrefix}* to ${settings.prefix}*` +
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
