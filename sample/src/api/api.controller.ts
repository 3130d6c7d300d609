import {
  Body,
  Controller,
  Get,
  HttpCode,
  Post,
  UnauthorizedException,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { CsrfGuard, Session, SessionService, type SessionData } from 'nestjs-redis-sessions';
import { AccountService } from '../account/account.service.js';
import { PrivateResponseInterceptor } from '../private-response.interceptor.js';

/**
 * The same life cycle as JSON, for curl (see sample/README.md): GET /api/csrf gives the token that
 * every POST sends in `X-CSRF-Token` (a JSON or form `csrf_token` field works too).
 */
@Controller('api')
@UseInterceptors(PrivateResponseInterceptor)
export class ApiController {
  constructor(
    private readonly sessions: SessionService,
    private readonly account: AccountService,
  ) {}

  @Get('counter')
  counter(@Session() session: SessionData) {
    return { visits: this.account.countVisit(session) };
  }

  @Get('csrf')
  csrf(@Session() session: SessionData) {
    return { token: this.sessions.getCsrfToken(session) };
  }

  /** Answers the rotated CSRF token too: the one fetched before login no longer works after it. */
  @Post('login')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  login(@Session() session: SessionData, @Body() body: unknown) {
    const name = this.account.nameFrom(body);
    this.account.logIn(session, name);
    return { user: name, csrfToken: this.sessions.getCsrfToken(session) };
  }

  @Get('profile')
  profile(@Session() session: SessionData) {
    if (!session.user) throw new UnauthorizedException('Log in first: POST /api/login');
    return { ...session.user, visits: session.visits ?? 0 };
  }

  @Post('profile')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  updateProfile(@Session() session: SessionData, @Body() body: unknown) {
    if (!session.user) throw new UnauthorizedException('Log in first: POST /api/login');
    session.user.bio = this.account.bioFrom(body);
    return session.user;
  }

  @Post('logout')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  logout(@Session() session: SessionData) {
    this.account.logOut(session);
    return { loggedOut: true };
  }
}
