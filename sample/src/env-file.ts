import { ConfigModule } from '@nestjs/config';
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `sample/.env` first, then `.env` in the working directory; variables already set win over both. */
export const ENV_FILES = [
  ...new Set([fileURLToPath(new URL('../.env', import.meta.url)), resolve(process.cwd(), '.env')]),
];

/**
 * Loads the .env files into process.env with @nestjs/config (dotenv, `${VAR}` expansion), before
 * the application is built: the sample decides its store and secret from the settings at boot.
 * Returns the files it found, relative to the working directory, for the start-up log.
 */
export async function loadEnvFiles(): Promise<string[]> {
  await ConfigModule.forRoot({ envFilePath: ENV_FILES, expandVariables: true });
  await ConfigModule.envVariablesLoaded;
  return ENV_FILES.filter((file) => existsSync(file)).map(
    (file) => relative(process.cwd(), file) || file,
  );
}
