import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule, cjsLibrary } from './app.module.js';

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
// The test stops the app with SIGTERM, as a deployment would; the hooks close the app (and the
// module's Redis client) before Nest re-raises the signal.
app.enableShutdownHooks();
await app.listen(0, '127.0.0.1');
// One JSON line the test waits for: where to send requests, and which build of the library
// Node picked (the `import` condition must lead to the ESM build).
console.log(
  JSON.stringify({
    url: await app.getUrl(),
    library: import.meta.resolve('nestjs-redis-sessions'),
    cjsLibrary,
  }),
);
