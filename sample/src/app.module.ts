import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import {
  RedisSessionModule,
  sessionOptionsFromSettings,
  type SessionStore,
} from 'nestjs-redis-sessions';
import { AccountService } from './account/account.service.js';
import { ApiController } from './api/api.controller.js';
import { DevicesController } from './devices/devices.controller.js';
import { HtmlExceptionFilter } from './html-exception.filter.js';
import { PagesController } from './pages/pages.controller.js';
import { withSampleDefaults, type Settings } from './settings.js';

/** What the sample is configured with. */
export interface SampleOptions {
  /**
   * `REDIS_SESSIONS_*` settings (or `redis.sessions.*`), read when the app boots; every setting
   * of the library's configuration table works. Default: `process.env`. The sample fills in its
   * key prefix and the local Redis URL when they are not given.
   */
  settings?: Settings;
  /** A store to use instead of Redis: the in-memory fallback, `new MemorySessionStore()`. */
  store?: SessionStore;
}

@Module({})
export class AppModule {
  static register(sample: SampleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        // The settings as the library reads them (one InvalidSessionOptionsError naming every
        // problem), plus the store the sample chose, which settings cannot express.
        RedisSessionModule.forRootAsync({
          useFactory: () => ({
            ...sessionOptionsFromSettings(withSampleDefaults(sample.settings ?? process.env)),
            ...(sample.store && { store: sample.store }),
          }),
        }),
      ],
      controllers: [PagesController, DevicesController, ApiController],
      providers: [AccountService, { provide: APP_FILTER, useClass: HtmlExceptionFilter }],
    };
  }
}
