import { Module } from '@nestjs/common';
import { RedisSessionModule } from 'nestjs-redis-sessions';
import { AppController } from './app.controller';
import { ChatGateway } from './chat.gateway';

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} must be set: the consumer check passes the Redis it started`);
  return value;
}

@Module({
  imports: [
    RedisSessionModule.forRoot({
      secret: required('SESSION_SECRET'),
      prefix: required('SESSION_PREFIX'),
      redis: { url: required('REDIS_URL') },
    }),
  ],
  controllers: [AppController],
  providers: [ChatGateway],
})
export class AppModule {}
