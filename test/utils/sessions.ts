import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { RedisSessionModule, type RedisSessionModuleForRootOptions } from '../../src/index.js';
import { Latches, SecurityTestController } from '../app/security-test.controller.js';
import { SessionTestController } from '../app/session-test.controller.js';
import { SECRET, request, type AdapterName } from './app.js';
import { startRedis, scanAll, type RedisHandle } from './redis-server.js';

/** The two stores every behaviour spec that is about sessions (not Redis itself) runs on. */
export const STORES = ['redis', 'memory'] as const;
export type StoreName = (typeof STORES)[number];

/** An app with sessions on a Redis of its own (or REDIS_URL), and what specs need around it. */
export interface SessionBed {
  app: INestApplication;
  redis: RedisHandle;
  latches: Latches;
  http(): ReturnType<typeof request>;
  key(id: string): string;
  /** Session keys in this bed's namespace. */
  keys(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Boots the test controllers with RedisSessionModule on the given platform. `trustProxy`
 * turns on the platform's own trust-proxy setting, as an application behind a proxy would.
 */
export async function sessionBed(
  adapter: AdapterName,
  options: Partial<RedisSessionModuleForRootOptions> = {},
  extra: { trustProxy?: boolean; metadata?: ModuleMetadata; redis?: RedisHandle } = {},
): Promise<SessionBed> {
  const redis = extra.redis ?? (await startRedis());
  const moduleRef = await Test.createTestingModule({
    imports: [
      RedisSessionModule.forRoot({
        secret: SECRET,
        prefix: redis.prefix,
        ...options,
        redis: { url: redis.url, ...options.redis },
      }),
      ...(extra.metadata?.imports ?? []),
    ],
    controllers: [
      SessionTestController,
      SecurityTestController,
      ...(extra.metadata?.controllers ?? []),
    ],
    providers: [Latches, ...(extra.metadata?.providers ?? [])],
  }).compile();
  let app: INestApplication;
  if (adapter === 'fastify') {
    const fastify = moduleRef.createNestApplication<NestFastifyApplication>(
      new FastifyAdapter({ trustProxy: extra.trustProxy }),
    );
    await fastify.init();
    await fastify.getHttpAdapter().getInstance().ready();
    app = fastify;
  } else {
    app = moduleRef.createNestApplication(new ExpressAdapter());
    if (extra.trustProxy)
      (app.getHttpAdapter().getInstance() as { set(k: string, v: unknown): void }).set(
        'trust proxy',
        true,
      );
    await app.init();
  }
  return {
    app,
    redis,
    latches: app.get(Latches),
    http: () => request(app.getHttpServer()),
    key: (id) => redis.prefix + id,
    keys: async () => {
      // A memory store's sessions are listed by the store itself, as their "keys".
      if (options.store === undefined) return scanAll(redis.client, `${redis.prefix}*`);
      const keys: string[] = [];
      for await (const id of options.store.ids()) keys.push(redis.prefix + id);
      return keys;
    },
    close: async () => {
      await app.close();
      if (!extra.redis) await redis.stop();
    },
  };
}
