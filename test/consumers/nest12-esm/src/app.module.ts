import { Module, type Type } from '@nestjs/common';
import { createRequire } from 'node:module';
import { RedisSessionModule } from 'nestjs-redis-sessions';
import { AppController } from './app.controller.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} must be set: the consumer check passes the Redis it started`);
  return value;
}

/** A CommonJS dependency that requires the library: the CJS build, in this ESM process. */
const cjs = createRequire(import.meta.url)('../cjs-dependency/index.cjs') as {
  CjsController: Type;
  library: string;
};
export const cjsLibrary = cjs.library;

@Module({
  imports: [
    RedisSessionModule.forRoot({
      secret: required('SESSION_SECRET'),
      prefix: required('SESSION_PREFIX'),
      redis: { url: required('REDIS_URL') },
    }),
  ],
  controllers: [AppController, cjs.CjsController],
})
export class AppModule {}
