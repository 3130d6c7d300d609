import { Controller, Get, Query } from '@nestjs/common';
import { Session, SessionService, type SessionData } from 'nestjs-redis-sessions';

@Controller()
export class AppController {
  // Constructor injection proves the global module's provider resolves through ESM + decorator metadata.
  constructor(private readonly sessions: SessionService) {}

  @Get('write')
  write(@Session() session: SessionData, @Query('value') value: string) {
    session.value = value;
    return { id: this.sessions.getId(session), isNew: this.sessions.isNew(session) };
  }

  @Get('read')
  read(@Session() session: SessionData) {
    return {
      id: this.sessions.getId(session),
      isNew: this.sessions.isNew(session),
      value: session.value ?? null,
    };
  }
}
