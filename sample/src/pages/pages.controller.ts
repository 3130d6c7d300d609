import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Post,
  Redirect,
  UnauthorizedException,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { CsrfGuard, Session, SessionService, type SessionData } from 'nestjs-redis-sessions';
import { AccountService } from '../account/account.service.js';
import { PrivateResponseInterceptor } from '../private-response.interceptor.js';
import { homePage, loginPage, profilePage } from './pages.view.js';

/** 303 See Other: after a POST, the browser GETs the target (Post/Redirect/Get). */
const SEE_OTHER = 303;

/**
 * The HTML pages. Forms post here, get a 303 to a page, and that page shows the outcome as a
 * flash message once, so reloading never re-submits. Every POST needs the session's CSRF token
 * (the hidden `csrf_token` field); CsrfGuard answers 403 otherwise.
 */
@Controller()
@UseInterceptors(PrivateResponseInterceptor)
export class PagesController {
  constructor(
    private readonly sessions: SessionService,
    private readonly account: AccountService,
  ) {}

  /** Who is logged in, the flash messages (removed as they are shown), and the logout token. */
  private frame(session: SessionData) {
    return {
      user: session.user?.name,
      csrfToken: session.user ? this.sessions.getCsrfToken(session) : undefined,
      notices: this.sessions.popFlash<string>(session),
      errors: this.sessions.popFlash<string>(session, 'error'),
    };
  }

  @Get()
  home(@Session() session: SessionData) {
    const visits = this.account.countVisit(session);
    return homePage(this.frame(session), session.user, visits);
  }

  @Get('login')
  loginForm(@Session() session: SessionData) {
    return loginPage(this.frame(session), this.sessions.getCsrfToken(session), session.user);
  }

  @Post('login')
  @UseGuards(CsrfGuard)
  @Redirect('/', SEE_OTHER)
  login(@Session() session: SessionData, @Body() body: unknown) {
    let name: string;
    try {
      name = this.account.nameFrom(body);
    } catch (error) {
      if (!(error instanceof BadRequestException)) throw error;
      this.sessions.flash(session, error.message, 'error');
      return { url: '/login' };
    }
    this.account.logIn(session, name);
    return { url: '/' };
  }

  @Get('profile')
  profile(@Session() session: SessionData) {
    if (!session.user) throw new UnauthorizedException();
    return profilePage(
      this.frame(session),
      this.sessions.getCsrfToken(session),
      session.user,
      session.visits ?? 0,
    );
  }

  @Post('profile')
  @UseGuards(CsrfGuard)
  @Redirect('/profile', SEE_OTHER)
  saveProfile(@Session() session: SessionData, @Body() body: unknown) {
    if (!session.user) throw new UnauthorizedException();
    try {
      session.user.bio = this.account.bioFrom(body);
      this.sessions.flash(session, 'Profile saved.');
    } catch (error) {
      if (!(error instanceof BadRequestException)) throw error;
      this.sessions.flash(session, error.message, 'error');
    }
  }

  @Post('logout')
  @UseGuards(CsrfGuard)
  @Redirect('/', SEE_OTHER)
  logout(@Session() session: SessionData) {
    this.account.logOut(session);
    // A write after invalidate starts a new, anonymous session: it only carries this message.
    this.sessions.flash(session, 'You are logged out.');
  }
}
