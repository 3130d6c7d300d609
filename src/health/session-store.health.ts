import { Inject, Injectable } from '@nestjs/common';
import { SessionStore } from '../store/session-store.interface.js';

/** One indicator's result, in the shape @nestjs/terminus reads. @publicApi */
export type SessionHealthResult<Key extends string = string> = Record<
  Key,
  { status: 'up' | 'down'; message?: string; responseTimeMs?: number }
>;

/**
 * A terminus-style health indicator for the session store: `up` when it answers a PING (within
 * `socket_timeout`, so a hung Redis reads `down` in bounded time), `down` otherwise. It imports
 * nothing from @nestjs/terminus (an optional peer): its results are the plain objects
 * `HealthCheckService.check()` reads.
 * @example
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.sessions.isHealthy('sessions')]); }
 * @publicApi
 */
@Injectable()
export class SessionStoreHealthIndicator {
  constructor(@Inject(SessionStore) private readonly store: SessionStore) {}

  async isHealthy<const Key extends string = 'sessions'>(
    key: Key = 'sessions' as Key,
  ): Promise<SessionHealthResult<Key>> {
    const started = performance.now();
    try {
      await this.store.ping?.();
      const responseTimeMs = Math.round(performance.now() - started);
      return { [key]: { status: 'up', responseTimeMs } } as SessionHealthResult<Key>;
    } catch (error) {
      // The reason, never a connection string or the Redis error's own details.
      const message = /timed? ?out|did not answer/i.test(String((error as Error)?.message))
        ? 'session store did not answer in time'
        : 'session store unreachable';
      return { [key]: { status: 'down', message } } as SessionHealthResult<Key>;
    }
  }
}
