import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { MemorySessionStore, RedisSessionModule } from 'nestjs-redis-sessions';
import { AuthController } from './auth/auth.controller.js';

/** How the sample runs: against Redis, or in memory when none is reachable. */
export interface SampleOptions {
  redisUrl: string;
  useMemoryStore: boolean;
  secret: string;
}

@Module({})
export class AppModule {
  static register(sample: SampleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true }),
        // The README's forRootAsync recipe: options from ConfigService, so .env files work too.
        RedisSessionModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            secret: config.get<string>('REDIS_SESSIONS_SECRET') ?? sample.secret,
            prefix: 'sample:session:',
            timeout: 1800,
            redis: { url: sample.redisUrl },
            store: sample.useMemoryStore ? new MemorySessionStore() : undefined,
          }),
        }),
      ],
      controllers: [AuthController],
    };
  }
}
