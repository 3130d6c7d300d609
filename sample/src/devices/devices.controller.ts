import {
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
import { devicesPage } from './devices.view.js';

/** 303 See Other: after a POST, the browser GETs the target (Post/Redirect/Get). */
const SEE_OTHER = 303;

/** A handle as `userSessions` makes them (base64url); anything else names no session. */
const HANDLE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * "Your devices": the logged-in user's sessions, from the library's per-user index
 * (`userSessions`), and the buttons that end them (`revokeSession`, `revokeUserSessions`). A
 * session is only ever named by its handle, never by its id: the page (and its forms) never
 * carry an id another browser could be logged in with.
 */
@Controller('devices')
@UseInterceptors(PrivateResponseInterceptor)
export class DevicesController {
  constructor(
    private readonly sessions: SessionService,
    private readonly account: AccountService,
  ) {}

  /** The user id of a logged-in session; 401 ("please log in") otherwise. */
  private userOf(session: SessionData): string {
    const userId = this.account.loggedInUserId(session);
    if (userId === undefined) throw new UnauthorizedException();
    return userId;
  }

  @Get()
  async list(@Session() session: SessionData) {
    const userId = this.userOf(session);
    const devices = await this.sessions.userSessions(userId, session);
    return devicesPage(
      {
        user: session.user!.name,
        csrfToken: this.sessions.getCsrfToken(session),
        notices: this.sessions.popFlash<string>(session),
        errors: this.sessions.popFlash<string>(session, 'error'),
      },
      devices,
    );
  }

  /** Signs one other device out: its next request is anonymous. */
  @Post('revoke')
  @UseGuards(CsrfGuard)
  @Redirect('/devices', SEE_OTHER)
  async revoke(@Session() session: SessionData, @Body() body: unknown) {
    const userId = this.userOf(session);
    const handle = (body as { handle?: unknown } | undefined)?.handle;
    if (typeof handle !== 'string' || !HANDLE.test(handle)) {
      this.sessions.flash(session, 'Choose a device to sign out.', 'error');
      return;
    }
    // This browser signs out with Log out (which also clears its cookie); revoking its own
    // session here would delete it under the request that is still using it.
    const devices = await this.sessions.userSessions(userId, session);
    if (devices.some((device) => device.current && device.handle === handle)) {
      this.sessions.flash(session, 'That is this browser: use Log out to sign it out.', 'error');
      return;
    }
    if (await this.sessions.revokeSession(userId, handle))
      this.sessions.flash(session, 'Signed out one device');
    else this.sessions.flash(session, 'That device was already signed out.', 'error');
  }

  /** "Sign out everywhere else": every session of the user but this one. */
  @Post('revoke-others')
  @UseGuards(CsrfGuard)
  @Redirect('/devices', SEE_OTHER)
  async revokeOthers(@Session() session: SessionData) {
    const userId = this.userOf(session);
    const ended = await this.sessions.revokeUserSessions(userId, { except: session });
    this.sessions.flash(
      session,
      ended === 0
        ? 'No other device was signed in.'
        : `Signed out ${ended} other device${ended === 1 ? '' : 's'}`,
    );
  }
}
