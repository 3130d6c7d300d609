import { Controller, Get, Redirect } from '@nestjs/common';
import { Session, SessionService, type SessionData } from 'nestjs-redis-sessions';
import './session-data';

@Controller()
export class AppController {
  constructor(private readonly sessions: SessionService) {}

  @Get('login')
  login(@Session() session: SessionData) {
    session.userId = 1;
    return { id: this.sessions.getId(session) };
  }

  /** What the ws gateway's messages wrote, as a later HTTP request reads it from Redis. */
  @Get('count')
  count(@Session() session: SessionData) {
    return { count: (session as Record<string, unknown>).count ?? null };
  }

  /** Nest 11's @Redirect() does not await the reply: on Fastify the commit must still land first. */
  @Get('redirect-login')
  @Redirect('/me', 303)
  redirectLogin(@Session() session: SessionData) {
    session.userId = 2;
  }

  @Get('me')
  me(@Session() session: SessionData) {
    const userId: number | undefined = session.userId;
    return { userId: userId ?? null, isNew: this.sessions.isNew(session) };
  }
}
