import {
  Body,
  Controller,
  Get,
  HttpCode,
  Post,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import { CsrfGuard, Session, SessionService, type SessionData } from 'nestjs-redis-sessions';

/** Login, counter, profile and logout: the session life cycle a real app goes through. */
@Controller()
export class AuthController {
  constructor(private readonly sessions: SessionService) {}

  @Get()
  home(@Session() session: SessionData) {
    return {
      user: session.user?.name ?? null,
      visits: session.visits ?? 0,
      messages: this.sessions.popFlash(session),
      routes: [
        'GET /counter',
        'POST /login {name}',
        'GET /profile',
        'GET /csrf',
        'POST /profile {bio} + X-CSRF-Token',
        'POST /logout',
      ],
    };
  }

  @Get('counter')
  counter(@Session() session: SessionData) {
    session.visits = (session.visits ?? 0) + 1;
    return { visits: session.visits };
  }

  @Post('login')
  @HttpCode(200)
  login(@Session() session: SessionData, @Body() body: { name?: string }) {
    const name = typeof body?.name === 'string' && body.name.trim() ? body.name.trim() : 'guest';
    // A new id at login, so a cookie planted before it (fixation) is worth nothing after.
    this.sessions.regenerate(session);
    session.user = { name, loggedInAt: new Date().toISOString() };
    this.sessions.flash(session, `Welcome, ${name}`);
    return { user: name };
  }

  @Get('profile')
  profile(@Session() session: SessionData) {
    if (!session.user) throw new UnauthorizedException('Log in first: POST /login');
    return { ...session.user, visits: session.visits ?? 0 };
  }

  @Get('csrf')
  csrf(@Session() session: SessionData) {
    return { token: this.sessions.getCsrfToken(session) };
  }

  @Post('profile')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  updateProfile(@Session() session: SessionData, @Body() body: { bio?: string }) {
    if (!session.user) throw new UnauthorizedException('Log in first: POST /login');
    session.user.bio = String(body?.bio ?? '');
    return session.user;
  }

  @Post('logout')
  @HttpCode(200)
  logout(@Session() session: SessionData) {
    this.sessions.invalidate(session);
    return { loggedOut: true };
  }
}
