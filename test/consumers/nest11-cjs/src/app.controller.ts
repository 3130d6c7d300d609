import { Controller, Get } from '@nestjs/common';
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

  @Get('me')
  me(@Session() session: SessionData) {
    const userId: number | undefined = session.userId;
    return { userId: userId ?? null, isNew: this.sessions.isNew(session) };
  }
}
