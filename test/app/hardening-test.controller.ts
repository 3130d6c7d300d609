import {
  Controller,
  Get,
  Header,
  Param,
  Post,
  Req,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { CsrfGuard, Session, SessionService, type SessionData } from '../../src/index.js';

/** Routes for the hardening specs. */
@Controller('h')
export class HardeningTestController {
  constructor(private readonly sessions: SessionService) {}

  @Get('read')
  read(@Session() session: SessionData) {
    return { data: { ...session } };
  }

  @Get('write/:key/:value')
  write(@Session() session: SessionData, @Param('key') key: string, @Param('value') value: string) {
    session[key] = value;
    return { id: this.sessions.getId(session) };
  }

  @Get('cached')
  @Header('Cache-Control', 'public, max-age=60')
  cached(@Session() session: SessionData) {
    session.cachedVisit = true;
    return { ok: true };
  }

  @Get('second-factor-fails')
  secondFactorFails(@Session() session: SessionData) {
    this.sessions.regenerate(session);
    session.userId = 42;
    throw new UnauthorizedException('wrong second factor');
  }

  @Get('bigint')
  bigint(@Session() session: SessionData) {
    session.secretKeyName = BigInt(1) as never;
    return { ok: true };
  }

  @Get('big-value')
  bigValue(@Session() session: SessionData) {
    session.blob = 'x'.repeat(1_100_000);
    return { ok: true };
  }

  @Get('many-fields')
  manyFields(@Session() session: SessionData) {
    for (let i = 0; i < 10_001; i++) session[`k${i}`] = 1;
    return { ok: true };
  }

  @Get('flash-many')
  flashMany(@Session() session: SessionData) {
    for (let i = 0; i < 150; i++) this.sessions.flash(session, i);
    return { queued: this.sessions.peekFlash(session).length };
  }

  @Get('regenerate')
  regenerate(@Session() session: SessionData) {
    this.sessions.regenerate(session);
    return { id: this.sessions.getId(session) };
  }

  @Get('masked')
  masked(@Session() session: SessionData) {
    return { a: this.sessions.maskedCsrfToken(session), b: this.sessions.maskedCsrfToken(session) };
  }

  @Post('protected')
  @UseGuards(CsrfGuard)
  protectedPost(@Session() session: SessionData) {
    session.posted = true;
    return { ok: true };
  }

  @Get('login-form')
  loginForm(@Req() request: object) {
    return { token: this.sessions.anonymousCsrfToken(request) };
  }

  @Post('login')
  @UseGuards(CsrfGuard)
  login() {
    return { ok: true };
  }

  /** A login form's POST that logs in for real. */
  @Post('login-as/:user')
  @UseGuards(CsrfGuard)
  loginAs(@Session() session: SessionData, @Param('user') user: string) {
    this.sessions.login(session, user);
    return { token: this.sessions.getCsrfToken(session) };
  }
}
