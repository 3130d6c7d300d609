import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { AppModule } from './app.module.js';
import { redisReachable } from './redis-probe.js';

async function bootstrap() {
  const logger = new Logger('Sample');
  const redisUrl = process.env.REDIS_SESSIONS_URL ?? 'redis://127.0.0.1:6379';
  const useMemoryStore = !(await redisReachable(redisUrl));
  if (useMemoryStore) {
    logger.warn(
      `No Redis answered at ${redisUrl}: falling back to MemorySessionStore (sessions live in this process only).`,
    );
  } else {
    logger.log(`Sessions are stored in Redis at ${redisUrl}`);
  }
  let secret = process.env.REDIS_SESSIONS_SECRET;
  if (!secret) {
    secret = randomBytes(32).toString('base64url');
    logger.warn(
      'REDIS_SESSIONS_SECRET is not set: using a random secret, so sessions end when the sample restarts.',
    );
  }
  const app = await NestFactory.create(AppModule.register({ redisUrl, useMemoryStore, secret }));
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);
  logger.log(`Sample listening on http://localhost:${port}`);
}

void bootstrap();
