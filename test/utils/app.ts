import type { INestApplication, ModuleMetadata, Type } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { signSessionId } from '../../src/index.js';

/** The two HTTP platforms every behaviour spec runs on. */
export const ADAPTERS = ['express', 'fastify'] as const;
export type AdapterName = (typeof ADAPTERS)[number];

/** A secret of the required length for tests. */
export const SECRET = 'test-secret-test-secret-test-secret-0123';
export const OLD_SECRET = 'old-secret-old-secret-old-secret-old-0123';

/** Boots a Nest app on the given platform with the given module metadata. */
export async function createApp(
  adapter: AdapterName,
  metadata: ModuleMetadata,
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  if (adapter === 'fastify') {
    const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter());
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    return app;
  }
  const app = moduleRef.createNestApplication(new ExpressAdapter());
  await app.init();
  return app;
}

/** The session cookies a response set (name=value and attributes), one string each. */
export function setCookies(response: request.Response, name = 'session'): string[] {
  const header = response.headers['set-cookie'] as unknown as string[] | string | undefined;
  const list = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return list.filter((c) => c.startsWith(`${name}=`));
}

/** `name=value` of the one session cookie a response set, for the next request's Cookie header. */
export function cookieOf(response: request.Response, name = 'session'): string {
  const cookies = setCookies(response, name);
  if (cookies.length !== 1)
    throw new Error(`expected one ${name} cookie, got ${JSON.stringify(cookies)}`);
  return cookies[0].split(';')[0];
}

/** The session id inside a `name=<id>.<sig>` cookie. */
export function idOf(cookie: string): string {
  return decodeURIComponent(cookie.split('=')[1]).split('.')[0];
}

/** A correctly signed cookie for an arbitrary id, as another service holding the secret would make. */
export function signedCookie(id: string, secret = SECRET, name = 'session'): string {
  return `${name}=${signSessionId(id, secret)}`;
}

export { request };
export type { Type };
