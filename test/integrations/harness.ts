import { createHash } from 'node:crypto';
import type { INestApplication, ModuleMetadata } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { RedisSessionModule, type RedisSessionModuleForRootOptions } from '../../src/index.js';
import { CREATE_SCRIPT, LOAD_SCRIPT, UPDATE_SCRIPT } from '../../src/store/session-scripts.js';
import { SECRET, type AdapterName } from '../utils/app.js';
import { monitor, type RedisHandle } from '../utils/redis-server.js';

/**
 * Boots an app with sessions on `redis` and nothing on the console (`logger: false`): the
 * integration specs add GraphQL or WebSocket modules through `metadata`, `beforeInit` runs
 * before `init()` (to install a WebSocket adapter, say), `options` go to `forRoot`.
 */
export async function integrationApp(
  adapter: AdapterName,
  redis: RedisHandle,
  metadata: ModuleMetadata,
  beforeInit: (app: INestApplication) => void = () => {},
  options: Partial<RedisSessionModuleForRootOptions> = {},
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    ...metadata,
    imports: [
      RedisSessionModule.forRoot({
        secret: SECRET,
        prefix: redis.prefix,
        redis: { url: redis.url },
        ...options,
      }),
      ...(metadata.imports ?? []),
    ],
  }).compile();
  if (adapter === 'fastify') {
    const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), {
      logger: false,
    });
    beforeInit(app);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return app;
  }
  const app = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
  beforeInit(app);
  await app.init();
  return app;
}

const SCRIPTS = new Map(
  (
    [
      ['load', LOAD_SCRIPT],
      ['create', CREATE_SCRIPT],
      ['update', UPDATE_SCRIPT],
    ] as const
  ).flatMap(([name, lua]) => [
    // EVALSHA names the script by its SHA1; EVAL (once per connection) carries its body, which
    // MONITOR prints escaped (ioredis gives it back with only `\"` undone).
    [createHash('sha1').update(lua).digest('hex'), name],
    [asMonitored(lua), name],
  ]),
);

/** A string as ioredis' MONITOR parser hands it over: Redis' escapes but for quotes. */
function asMonitored(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
}

/**
 * A round trip named by what it does. A read is `load` whether it ran the load script or, within
 * `touch_interval` of the last slide, a plain HGETALL (test/touch-interval.e2e-spec.ts tells the two apart).
 */
function tripName(command: { name: string; args: string[] }): RoundTrip {
  if (command.name === 'eval' || command.name === 'evalsha')
    return SCRIPTS.get(command.args[0]) ?? command.name;
  return command.name === 'hgetall' ? 'load' : command.name;
}

/** A top-level command Redis ran for a session key, scripts named by what they do. */
export type RoundTrip = 'load' | 'create' | 'update' | string;

/**
 * Counts what Redis executes (MONITOR on a Redis of the spec's own): `during(fn)` gives the round
 * trips `fn` cost (`load`, `create`, `update` for the store's scripts, else the command name) and
 * the writes the scripts ran inside Redis (HSET/HDEL/DEL with their arguments).
 */
export async function roundTripCounter(redis: RedisHandle) {
  const watch = await monitor(redis.url);
  return {
    async during(fn: () => Promise<unknown>): Promise<{ trips: RoundTrip[]; writes: string[][] }> {
      await watch.settle();
      watch.clear();
      await fn();
      await watch.settle();
      const trips = watch.roundTrips(redis.prefix).map(tripName);
      const writes = watch.all
        .filter((c) => c.source === 'lua' && ['hset', 'hdel', 'del'].includes(c.name))
        .filter((c) => c.args[0]?.startsWith(redis.prefix))
        .map((c) => [c.name, ...c.args]);
      return { trips, writes };
    },
    /**
     * Resolves once Redis has run `trip` for a session key since the last `during` began, for
     * work no answer announces. Each look is a round trip of its own (no sleeps), at most 200.
     */
    async seen(trip: RoundTrip): Promise<void> {
      for (let i = 0; i < 200; i++) {
        await watch.settle();
        const names = watch.roundTrips(redis.prefix).map(tripName);
        if (names.includes(trip)) return;
      }
      throw new Error(`Redis never ran ${trip}`);
    },
    close: () => watch.close(),
  };
}

/** The application's fields of a session hash (library fields, all named `$…`, left out). */
export async function userFields(redis: RedisHandle, id: string): Promise<Record<string, unknown>> {
  const hash = await redis.client.hgetall(redis.prefix + id);
  return Object.fromEntries(
    Object.entries(hash)
      .filter(([field]) => !field.startsWith('$'))
      .map(([field, value]) => [field, JSON.parse(value)]),
  );
}
