import 'reflect-metadata';
import { ConsoleLogger } from '@nestjs/common';
import {
  InvalidSessionOptionsError,
  MemorySessionStore,
  sessionOptionsFromSettings,
  type SessionStore,
} from 'nestjs-redis-sessions';
import { PLATFORMS, createSampleApp, type Platform } from './app.factory.js';
import { loadEnvFiles } from './env-file.js';
import { describeRedis, probeRedis } from './redis-probe.js';
import { withSampleDefaults, withSecret } from './settings.js';

/** A problem the person starting the sample can fix: said in one line, no stack trace. */
class StartError extends Error {}

/**
 * Nest's warnings and errors, except those main() reports itself in a few lines with what to do:
 * the listen error of a taken port, and invalid settings (should the module find any at boot).
 */
class SampleLogger extends ConsoleLogger {
  error(message: unknown, ...rest: unknown[]): void {
    if (String(message).includes('EADDRINUSE')) return;
    if ((message as Error)?.name === 'InvalidSessionOptionsError') return;
    super.error(message, ...rest);
  }
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function platformFrom(value: string | undefined): Platform {
  const platform = (value || 'express').toLowerCase();
  if (!(PLATFORMS as readonly string[]).includes(platform))
    throw new StartError(`PLATFORM must be express or fastify, got "${value}"`);
  return platform as Platform;
}

function portFrom(value: string | undefined): number {
  const port = Number(value || 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new StartError(`PORT must be a port number (0 to 65535), got "${value}"`);
  return port;
}

async function bootstrap(): Promise<void> {
  const envFiles = await loadEnvFiles();
  const platform = platformFrom(process.env.PLATFORM);
  const port = portFrom(process.env.PORT);
  const { settings, generated } = withSecret(withSampleDefaults(process.env));
  // The library's own validation, before anything is built: every problem in one message.
  const options = sessionOptionsFromSettings(settings);

  const notes: string[] = [];
  let store: SessionStore | undefined;
  let storeLine = `${describeRedis(options.redis)}, keys ${options.prefix}<id>`;
  const probe = await probeRedis(options.redis);
  if (!probe.ok) {
    store = new MemorySessionStore();
    storeLine = 'in memory (MemorySessionStore)';
    notes.push(
      `No Redis answered: ${describeRedis(options.redis)} (${probe.reason}). Sessions live in this ` +
        'process and end when it stops; start redis-server or set REDIS_SESSIONS_URL to keep them.',
    );
  }
  if (generated)
    notes.push(
      'REDIS_SESSIONS_SECRET is not set: using a random secret, so sessions end when the sample ' +
        'stops. Set it (32+ characters, e.g. in sample/.env) to keep them across restarts.',
    );

  const app = await createSampleApp(
    platform,
    { settings, store },
    {
      logger: new SampleLogger({ logLevels: ['error', 'warn'] }),
    },
  );
  app.enableShutdownHooks();
  try {
    await app.listen(port);
  } catch (error) {
    await app.close().catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      fail(
        `Port ${port} is already in use: set PORT to a free one, e.g. PORT=${port + 1} npm start`,
      );
    throw error;
  }
  const { port: actual } = app.getHttpServer().address() as { port: number };
  const url = `http://localhost:${actual}/`;
  const name = platform === 'fastify' ? 'Fastify' : 'Express';
  const lines = [
    `Sessions sample on ${name}: ${url}`,
    `  store     ${storeLine}`,
    `  settings  ${envFiles.length > 0 ? `environment + ${envFiles.join(' + ')}` : 'environment (no .env file)'}`,
    ...notes.map((note) => `  note      ${note}`),
    `Open ${url} in a browser and log in with any name (curl users: see sample/README.md).`,
    'Ctrl+C to stop.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

bootstrap().catch((error: Error) => {
  if (error instanceof InvalidSessionOptionsError || error?.name === 'InvalidSessionOptionsError')
    fail(
      `${error.message}\nSettings come from the environment and sample/.env (see sample/README.md).`,
    );
  if (error instanceof StartError) fail(error.message);
  fail(`The sample could not start: ${error?.stack ?? String(error)}`);
});
