import {
  Inject,
  Logger,
  Module,
  Optional,
  type DynamicModule,
  type MiddlewareConsumer,
  type NestModule,
  type OnApplicationBootstrap,
  type OnModuleInit,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_INTERCEPTOR, HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import { interceptGateways } from './session.gateways.js';
import { SessionStoreHealthIndicator } from './health/session-store.health.js';
import { ExpressSessionMiddleware } from './http/express-session.middleware.js';
import {
  decorateFastifySession,
  registerFastifyHooks,
  type FastifyLikeInstance,
} from './http/fastify-hooks.js';
import { CsrfGuard } from './security/csrf.guard.js';
import {
  ConfigurableModuleClass,
  type RedisSessionModuleAsyncOptions,
  type RedisSessionModuleForRootOptions,
} from './redis-session.module-definition.js';
import {
  SESSION_CONFIG,
  SESSION_MANAGER,
  SESSION_RESOURCES,
  SESSION_SERVICE,
  sessionProviders,
  type SessionResources,
} from './redis-session.providers.js';
import { REDIS_SESSION_CLIENT } from './redis-session.constants.js';
import type { SessionConfig } from './config/session-config.js';
import { SessionStore } from './store/session-store.interface.js';
import { sessionOptionsFromSettings } from './config/session-settings.js';
import { SessionLoadPipe } from './session.decorator.js';
import { SessionInterceptor } from './session.interceptor.js';
import { SessionLifecycle } from './session/session-lifecycle.js';
import { SessionEvents } from './users/session-events.js';
import { SessionManager } from './session/session.manager.js';
import { SessionService } from './session.service.js';

/** Present when the interceptor is global: it then goes on the gateways too. */
const SESSION_ON_GATEWAYS = 'REDIS_SESSION:ON_GATEWAYS';

/**
 * Registers the interceptor for every route, unless the application chose `globalInterceptor:
 * false`: Nest then runs no interceptor pipeline at all on routes without `@UseSession()`.
 */
function withInterceptor(module: DynamicModule, global: boolean): DynamicModule {
  if (!global) return module;
  return {
    ...module,
    providers: [
      ...(module.providers ?? []),
      { provide: APP_INTERCEPTOR, useExisting: SessionInterceptor },
      { provide: SESSION_ON_GATEWAYS, useValue: true },
    ],
  };
}

/**
 * Redis-backed sessions for the whole application: registers the global interceptor that loads
 * and commits sessions, and exports `SessionService` (global by default).
 *
 * @example
 * RedisSessionModule.forRoot()                                  // REDIS_SESSIONS_* from the environment
 * RedisSessionModule.forRoot({ secret, redis: { url } })
 * RedisSessionModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => ({ secret: c.get('SECRET') }) })
 * @publicApi
 */
@Module({
  providers: [
    ...sessionProviders,
    SessionEvents,
    SessionLifecycle,
    SessionManager,
    SessionService,
    SessionInterceptor,
    SessionLoadPipe,
    CsrfGuard,
    ExpressSessionMiddleware,
    SessionStoreHealthIndicator,
    { provide: SESSION_MANAGER, useExisting: SessionManager },
    { provide: SESSION_SERVICE, useExisting: SessionService },
  ],
  exports: [
    SessionService,
    SessionManager,
    SessionLoadPipe,
    SessionInterceptor,
    CsrfGuard,
    ExpressSessionMiddleware,
    SessionStoreHealthIndicator,
    SessionStore,
    SESSION_MANAGER,
    SESSION_SERVICE,
    REDIS_SESSION_CLIENT,
  ],
})
export class RedisSessionModule
  extends ConfigurableModuleClass
  implements NestModule, OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown
{
  private readonly logger = new Logger('RedisSession');

  constructor(
    @Inject(SESSION_RESOURCES) private readonly resources: SessionResources,
    @Inject(SESSION_CONFIG) private readonly config: SessionConfig,
    private readonly manager: SessionManager,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
    @Optional() @Inject(SESSION_ON_GATEWAYS) onGateways?: boolean,
    @Optional() modules?: ModulesContainer,
    @Optional() interceptor?: SessionInterceptor,
  ) {
    super();
    // Here, not in onModuleInit: Nest binds the gateways' handlers before any init hook runs.
    if (modules !== undefined) interceptGateways(modules, onGateways ? interceptor : undefined);
  }

  /**
   * On Fastify, hooks the response boundary into the instance (`onSend` commits before any header
   * leaves). Express needs nothing here: the response is reached from the request and held when
   * the session loads.
   */
  onModuleInit(): void {
    const adapter = this.adapterHost?.httpAdapter;
    if (adapter?.getType?.() !== 'fastify') return;
    const instance = adapter.getInstance<FastifyLikeInstance>();
    registerFastifyHooks(instance, (request, left, status, body) =>
      this.manager.commitAtBoundary(request, left, status, body),
    );
    decorateFastifySession(instance);
  }

  /** `expressSession: true`: the express-session-shaped `req.session` on every route. */
  configure(consumer: MiddlewareConsumer): void {
    if (this.config.expressSession) consumer.apply(ExpressSessionMiddleware).forRoutes('{*path}');
  }

  /**
   * With options: those options. Without: the `REDIS_SESSIONS_*` environment variables, read when
   * the application boots (so `ConfigModule` may load a .env file first), all problems in one error.
   */
  static forRoot(options?: RedisSessionModuleForRootOptions): DynamicModule {
    if (options === undefined) {
      return withInterceptor(
        super.forRootAsync({ useFactory: () => sessionOptionsFromSettings(process.env) }),
        true,
      );
    }
    return withInterceptor(super.forRoot(options), options.globalInterceptor !== false);
  }

  /** Options from a factory, a class implementing `createRedisSessionOptions()`, or an existing provider. */
  static forRootAsync(options: RedisSessionModuleAsyncOptions): DynamicModule {
    return withInterceptor(super.forRootAsync(options), options.globalInterceptor !== false);
  }

  /**
   * Waits (at most `socket_timeout`) for a client the module made to connect, so the first
   * requests do not race the connection. Redis being down does not stop the application: sessions
   * answer 503 until it comes back.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.resources.made) return;
    const client = this.resources.client;
    if (!this.resources.owned || client === null || client.status === 'ready') return;
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), this.config.socketTimeoutMs);
      const done = (value: boolean) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        resolve(value);
      };
      const onReady = () => done(true);
      client.on('ready', onReady);
    });
    if (!ready) this.logger.warn('Redis is not reachable yet; sessions answer 503 until it is');
  }

  async onApplicationShutdown(): Promise<void> {
    // Only what the module made: a store that was never asked for has nothing to close.
    if (this.resources.made) await this.resources.store.close?.();
  }
}
