import { ConfigurableModuleBuilder } from '@nestjs/common';
import type {
  RedisSessionModuleOptions,
  RedisSessionOptionsFactory,
} from './config/redis-session-module-options.interface.js';

/**
 * forRoot/forRootAsync (useFactory, useClass, useExisting) and the options token, generated.
 * `isGlobal` and `globalInterceptor` (both default true) are extras: they never reach the options
 * provider, and are known when the module is declared (so the interceptor can be left out entirely).
 * @internal
 */
export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<RedisSessionModuleOptions>({ moduleName: 'RedisSession' })
    .setClassMethodName('forRoot')
    .setFactoryMethodName('createRedisSessionOptions' as keyof RedisSessionOptionsFactory)
    .setExtras({ isGlobal: true, globalInterceptor: true }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }))
    .build();

/**
 * Injection token of the options given to forRoot/forRootAsync.
 * @publicApi
 */
export const REDIS_SESSION_MODULE_OPTIONS = MODULE_OPTIONS_TOKEN;

/** Options accepted by `RedisSessionModule.forRoot(options)`. @publicApi */
export type RedisSessionModuleForRootOptions = typeof OPTIONS_TYPE;

/** Options accepted by `RedisSessionModule.forRootAsync(options)`. @publicApi */
export type RedisSessionModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE;
