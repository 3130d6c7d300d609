import 'reflect-metadata';
import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule, type SampleOptions } from './app.module.js';

/** The HTTP platforms the sample runs on (`PLATFORM=fastify npm start`). */
export const PLATFORMS = ['express', 'fastify'] as const;
export type Platform = (typeof PLATFORMS)[number];

/**
 * Builds the sample application on a platform, not yet listening: `npm start` and the tests use
 * this same function, so what they exercise is what a person runs.
 */
export async function createSampleApp(
  platform: Platform,
  sample: SampleOptions,
  nest: NestApplicationOptions = {},
): Promise<INestApplication> {
  const module = AppModule.register(sample);
  const options: NestApplicationOptions = { abortOnError: false, ...nest };
  const app =
    platform === 'fastify'
      ? await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter(), options)
      : await NestFactory.create(module, new ExpressAdapter(), options);
  // helmet's defaults, minus what breaks plain-HTTP development (upgrading requests to HTTPS,
  // HSTS); the pages' inline stylesheet is allowed by the default style-src.
  app.useSecurityHeaders({
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    strictTransportSecurity: false,
  });
  return app;
}
