import { Logger, type LoggerService } from '@nestjs/common';

/** One log line a test run produced, as Nest's Logger was asked to write it. */
export interface CapturedLog {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  context?: string;
  message: string;
}

const store = globalThis as unknown as { __nestLogs?: string[]; __nestCaptured?: CapturedLog[] };

/** Every Nest log line since the test started, for assertions on what was logged. */
export function capturedLogs(): CapturedLog[] {
  return store.__nestCaptured ?? [];
}

function capture(level: CapturedLog['level']) {
  return (message: unknown, ...rest: unknown[]) => {
    const context =
      typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    const text = message instanceof Error ? message.message : String(message);
    (store.__nestCaptured ??= []).push({ level, context, message: text });
    (store.__nestLogs ??= []).push(`${level.toUpperCase()} [${context ?? ''}] ${text}`);
  };
}

const quiet: LoggerService = {
  log: capture('log'),
  error: capture('error'),
  warn: capture('warn'),
  debug: capture('debug'),
  verbose: capture('verbose'),
  fatal: capture('fatal'),
};

// A test run prints failures and a summary: expected log lines go to the capture instead, and
// the environment prints them for a test that fails.
Logger.overrideLogger(quiet);
// Test.createTestingModule().compile() and NestFactory install their own logger; in tests the
// capture stays in place (a test asserts on capturedLogs() instead of reading the console).
Logger.overrideLogger = () => undefined;
beforeEach(() => {
  store.__nestCaptured = [];
});
