import { Controller, Get, Param, Query, Req, UnauthorizedException } from '@nestjs/common';
import { Session, SessionService, type SessionData } from '../../src/index.js';
import { Latches } from './security-test.controller.js';

/** Routes for the sessions-by-user specs: login, the device list, revocation. */
@Controller('u')
export class UsersTestController {
  constructor(
    private readonly sessions: SessionService,
    private readonly latches: Latches,
  ) {}

  @Get('login/:user')
  login(@Session() session: SessionData, @Param('user') user: string) {
    this.sessions.login(session, user);
    return { id: this.sessions.getId(session) };
  }

  @Get('slow-login/:user/:gate')
  async slowLogin(
    @Session() session: SessionData,
    @Param('user') user: string,
    @Param('gate') gate: string,
  ) {
    this.sessions.login(session, user);
    await this.latches.wait(gate);
    return { ok: true };
  }

  @Get('login-then-fail/:user')
  loginThenFail(@Session() session: SessionData, @Param('user') user: string) {
    this.sessions.login(session, user);
    session.note = 'kept';
    throw new UnauthorizedException('wrong second factor');
  }

  /** A session with data and no user yet (a visitor's cart, say). */
  @Get('visit')
  visit(@Session() session: SessionData) {
    session.visits = ((session.visits as number | undefined) ?? 0) + 1;
    return { id: this.sessions.getId(session) };
  }

  /** Binds the session it was given to a user, keeping its id (no regenerate). */
  @Get('bind/:user')
  bind(@Session() session: SessionData, @Param('user') user: string) {
    this.sessions.setUser(session, user);
    return { ok: true };
  }

  @Get('me')
  me(@Session() session: SessionData) {
    return { user: this.sessions.getUser(session) ?? null };
  }

  @Get('devices')
  devices(
    @Session() session: SessionData,
    @Query('offset') offset?: string,
    @Query('limit') limit?: string,
  ) {
    const user = this.sessions.getUser(session);
    if (user === undefined) throw new UnauthorizedException();
    return this.sessions.userSessions(user, session, {
      offset: offset === undefined ? undefined : Number(offset),
      limit: limit === undefined ? undefined : Number(limit),
    });
  }

  @Get('revoke/:user/:handle')
  revoke(@Param('user') user: string, @Param('handle') handle: string) {
    return this.sessions.revokeSession(user, handle).then((ended) => ({ ended }));
  }

  @Get('revoke-others')
  async revokeOthers(@Session() session: SessionData) {
    const user = this.sessions.getUser(session)!;
    return { ended: await this.sessions.revokeUserSessions(user, { except: session }) };
  }

  @Get('revoke-all/:user')
  async revokeAll(@Param('user') user: string) {
    return { ended: await this.sessions.revokeUserSessions(user) };
  }

  @Get('logout')
  logout(@Session() session: SessionData) {
    this.sessions.invalidate(session);
    return { ok: true };
  }

  /** An app that keeps its user in its own key (`user_key: account.id`), with no setUser call. */
  @Get('key-login/:user')
  keyLogin(@Session() session: SessionData, @Param('user') user: string) {
    session.account = { id: user, name: `${user}'s name` };
    return { user: this.sessions.getUser(session) ?? null };
  }

  @Get('key-logout')
  keyLogout(@Session() session: SessionData) {
    delete (session.account as { id?: string }).id;
    return { user: this.sessions.getUser(session) ?? null };
  }

  @Get('key-login-then-fail/:user')
  keyLoginThenFail(@Session() session: SessionData, @Param('user') user: string) {
    session.account = { id: user };
    throw new UnauthorizedException('wrong second factor');
  }

  @Get('account')
  account(@Session() session: SessionData) {
    return { account: session.account ?? null, user: this.sessions.getUser(session) ?? null };
  }

  @Get('bad-user')
  badUser(@Session() session: SessionData, @Req() _req: unknown) {
    try {
      this.sessions.setUser(session, { id: 1 } as never);
    } catch (error) {
      return { error: (error as Error).message };
    }
    return { error: null };
  }
}
