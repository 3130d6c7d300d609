import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { jest } from '@jest/globals';

/**
 * Mercurius `require()`s `@fastify/static`, which `require()`s `content-disposition` 3, an ES
 * module. Node ≥ 20.19 loads it (require(esm)); Jest's module loader does not before Node 24.9
 * ("Must use import to load ES Module"). Call this, then `await import('@nestjs/mercurius')`
 * (a static import would be linked, and its `require()`s run, before this code): the ES module
 * is loaded with `import()` and handed to those `require()` calls as it is, nothing replaced.
 */
export async function requireEsmInJest(): Promise<void> {
  const require = createRequire(import.meta.url);
  const fastifyStatic = dirname(require.resolve('@fastify/static'));
  const contentDisposition = require.resolve('content-disposition', { paths: [fastifyStatic] });
  const loaded = await import(pathToFileURL(contentDisposition).href);
  jest.doMock(contentDisposition, () => loaded);
}
