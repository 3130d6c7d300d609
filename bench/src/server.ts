import 'reflect-metadata';
import { Module, type INestApplication, type ModuleMetadata, type Provider, type Type } from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { RedisStore } from 'connect-redis';
import session from 'express-session';
import { Redis } from 'ioredis';
import { MemorySessionStore, RedisSessionModule } from 'nestjs-redis-sessions';
import { BareController, FLOOR_REDIS, FloorController, LibController, NoopInterceptor, PeerController } from './controllers.js';
import { ioredisForConnectRedis } from './ioredis-shim.js';

// Usage: node bench/dist/server.js <variant> <port> <redis-url>
const [variant, port, redisUrl] = process.argv.slice(2);
const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';

export const VARIANTS = ['bare-express', 'express-session', 'lib-express', 'lib-route-express', 'bare-fastify', 'fastify-session', 'lib-fastify', 'lib-route-fastify', 'lib-cache-express', 'lib-cache-fastify', 'rt-express', 'rt-fastify', 'floor-express', 'floor-fastify', 'memory-express', 'memory-fastify'];

function appModule(controller: Type, imports: ModuleMetadata['imports'] = []): Type {
  @Module({ imports, controllers: [controller] })
  class AppModule {}
  return AppModule;
}

function peerStore(redis: Redis) {
  return new RedisStore({ client: ioredisForConnectRedis(redis) as never });
}

async function create(): Promise<{ app: INestApplication; redis?: Redis }> {
  const logger = ['error', 'warn'] as const;
  const express = variant.endsWith('express');
  const adapter = () => (express ? new ExpressAdapter() : new FastifyAdapter());
  switch (variant) {
    case 'bare-express':
    case 'bare-fastify':
      return { app: await NestFactory.create(appModule(BareController), adapter(), { logger: [...logger] }) };
    case 'lib-express':
    case 'lib-fastify': {
      const module = appModule(LibController, [RedisSessionModule.forRoot({ secret: SECRET, redis: { url: redisUrl } })]);
      return { app: await NestFactory.create(module, adapter(), { logger: [...logger] }) };
    }
    // The opt-in near cache: reads inside touch_interval of a session this process holds send nothing.
    case 'lib-cache-express':
    case 'lib-cache-fastify': {
      const module = appModule(LibController, [RedisSessionModule.forRoot({ secret: SECRET, redis: { url: redisUrl }, nearCache: 10_000 })]);
      return { app: await NestFactory.create(module, adapter(), { logger: [...logger] }) };
    }
    // The lean mode: globalInterceptor: false and nothing else. No route runs an interceptor;
    // `@Session()` loads the session itself and the response boundary commits it.
    case 'lib-route-express':
    case 'lib-route-fastify': {
      const module = appModule(LibController, [
        RedisSessionModule.forRoot({ secret: SECRET, redis: { url: redisUrl }, globalInterceptor: false }),
      ]);
      return { app: await NestFactory.create(module, adapter(), { logger: [...logger] }) };
    }
    // The library's own cost with Redis taken out (side experiments only).
    case 'memory-express':
    case 'memory-fastify': {
      const module = appModule(LibController, [RedisSessionModule.forRoot({ secret: SECRET, store: new MemorySessionStore() })]);
      return { app: await NestFactory.create(module, adapter(), { logger: [...logger] }) };
    }
    case 'rt-express':
    case 'rt-fastify':
    case 'floor-express':
    case 'floor-fastify': {
      const redis = new Redis(redisUrl);
      const providers: Provider[] = [{ provide: FLOOR_REDIS, useValue: redis }];
      if (variant.startsWith('floor-')) providers.push({ provide: APP_INTERCEPTOR, useClass: NoopInterceptor });
      @Module({ controllers: [FloorController], providers })
      class FloorModule {}
      return { app: await NestFactory.create(FloorModule, adapter(), { logger: [...logger] }), redis };
    }
    case 'express-session': {
      const redis = new Redis(redisUrl);
      const app = await NestFactory.create(appModule(PeerController), new ExpressAdapter(), { logger: [...logger] });
      app.use(session({ store: peerStore(redis), secret: SECRET, resave: false, saveUninitialized: false }));
      return { app, redis };
    }
    case 'fastify-session': {
      const redis = new Redis(redisUrl);
      const app = await NestFactory.create<NestFastifyApplication>(appModule(PeerController), new FastifyAdapter(), {
        logger: [...logger],
      });
      // secure:false because the default (true) silently never saves over plain HTTP (BENCH-PEERS.md, obs. 8).
      await app.register(fastifyCookie as never);
      await app.register(fastifySession as never, {
        secret: SECRET,
        store: peerStore(redis),
        saveUninitialized: false,
        cookie: { secure: false },
      } as never);
      return { app, redis };
    }
    default:
      throw new Error(`unknown variant ${variant}; one of ${VARIANTS.join(', ')}`);
  }
}

const { app, redis } = await create();
await app.listen(Number(port), '127.0.0.1');
// A clean exit on SIGTERM is what lets `node --cpu-prof` write its profile.
process.on('SIGTERM', async () => {
  await app.close();
  redis?.disconnect();
  process.exit(0);
});
process.stdout.write('ready\n');
