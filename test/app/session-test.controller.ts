import {
  Body,
  CanActivate,
  Controller,
  ExecutionContext,
  Get,
  HttpException,
  Injectable,
  Param,
  Post,
  Redirect,
  Req,
  UseGuards,
} from '@nestjs/common';
import { Session, SessionService, type SessionData } from '../../src/index.js';

/** A guard that reads the session, as an AuthGuard would; the handler must see the same object. */
@Injectable()
export class SessionReadingGuard implements CanActivate {
  constructor(private readonly sessions: SessionService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest();
    const session = await this.sessions.load(request);
    request.sessionSeenByGuard = session;
    return session.blocked !== true;
  }
}

/** Routes the behaviour specs drive; each does one thing a user's handler would. */
@Controller()
export class SessionTestController {
  constructor(private readonly sessions: SessionService) {}

  @Get('none')
  none() {
    return { ok: true };
  }

  @Get('read')
  read(@Session() session: SessionData) {
    return { counter: session.counter ?? null };
  }

  @Get('read-key')
  readKey(@Session('counter') counter: unknown) {
    return { counter: counter ?? null };
  }

  @Get('write')
  write(@Session() session: SessionData) {
    session.counter = ((session.counter as number | undefined) ?? 0) + 1;
    return { counter: session.counter };
  }

  @Get('dump')
  dump(@Session() session: SessionData) {
    return {
      data: { ...session },
      id: this.sessions.getId(session),
      isNew: this.sessions.isNew(session),
    };
  }

  @Post('set')
  set(@Session() session: SessionData, @Body() body: Record<string, unknown>) {
    Object.assign(session, body);
    return { ok: true };
  }

  @Get('set/:key/:value')
  setOne(
    @Session() session: SessionData,
    @Param('key') key: string,
    @Param('value') value: string,
  ) {
    session[key] = value;
    return { ok: true };
  }

  @Get('delete/:key')
  remove(@Session() session: SessionData, @Param('key') key: string) {
    delete session[key];
    return { ok: true };
  }

  @Get('push/:item')
  push(@Session() session: SessionData) {
    const cart = (session.cart ??= { items: [] as string[] }) as { items: string[] };
    cart.items.push('item');
    return { items: cart.items };
  }

  @Get('invalidate')
  invalidate(@Session() session: SessionData) {
    this.sessions.invalidate(session);
    return { ok: true };
  }

  @Get('invalidate-then-write')
  invalidateThenWrite(@Session() session: SessionData) {
    this.sessions.invalidate(session);
    session.after = 'logout';
    return { id: this.sessions.getId(session) };
  }

  @Get('regenerate')
  regenerate(@Session() session: SessionData) {
    this.sessions.regenerate(session);
    return { id: this.sessions.getId(session) };
  }

  @Get('regenerate-twice')
  regenerateTwice(@Session() session: SessionData) {
    this.sessions.regenerate(session);
    const first = this.sessions.getId(session);
    this.sessions.regenerate(session);
    return { first, id: this.sessions.getId(session) };
  }

  @Get('timeout/:seconds')
  timeout(@Session() session: SessionData, @Param('seconds') seconds: string) {
    this.sessions.adjustTimeout(session, Number(seconds));
    return { ok: true };
  }

  @Get('remember/:seconds')
  remember(@Session() session: SessionData, @Param('seconds') seconds: string) {
    this.sessions.adjustTimeout(session, Number(seconds));
    this.sessions.persistCookie(session);
    return { ok: true };
  }

  @Get('forget')
  forget(@Session() session: SessionData) {
    this.sessions.persistCookie(session, false);
    return { ok: true };
  }

  @Get('throw/:status')
  throws(@Session() session: SessionData, @Param('status') status: string) {
    session.beforeThrow = status;
    throw new HttpException('boom', Number(status));
  }

  @Get('bigint')
  bigint(@Session() session: SessionData) {
    session.fine = 'yes';
    session.big = BigInt(1);
    return { ok: true };
  }

  @Get('cycle')
  cycle(@Session() session: SessionData) {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    session.loop = loop;
    return { ok: true };
  }

  @Get('redirect')
  @Redirect('/read', 302)
  redirect(@Session() session: SessionData) {
    session.counter = 42;
  }

  @Get('guarded')
  @UseGuards(SessionReadingGuard)
  guarded(@Session() session: SessionData, @Req() request: { sessionSeenByGuard?: unknown }) {
    session.guarded = true;
    return { same: request.sessionSeenByGuard === session };
  }

  @Get('load-in-handler')
  async loadInHandler(@Req() request: object) {
    const session = await this.sessions.load(request);
    session.loadedByHand = true;
    return { ok: true };
  }
}
