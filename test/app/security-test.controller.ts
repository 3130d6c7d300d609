import { Body, Controller, Get, HttpCode, Param, Post, Res, UseGuards } from '@nestjs/common';
import { CsrfGuard, Session, SessionService, type SessionData } from '../../src/index.js';
import { Latches } from './latches.js';

export { Latches };

type RawOut = { writeHead(status: number, headers: unknown[]): void; end(body: string): void };

/** `writeHead` array headers in each form an app may use, and one Node refuses. */
const RAW_HEADERS: Record<string, unknown[]> = {
  flat: ['Content-Type', 'application/json', 'Set-Cookie', 'theme=dark; Path=/'],
  pairs: [
    ['Content-Type', 'application/json'],
    ['Set-Cookie', 'theme=dark; Path=/'],
  ],
  odd: ['Content-Type'],
};

/** Routes for the security and concurrency specs. */
@Controller('sec')
export class SecurityTestController {
  constructor(
    private readonly sessions: SessionService,
    private readonly latches: Latches,
  ) {}

  @Get('login')
  login(@Session() session: SessionData) {
    this.sessions.regenerate(session);
    session.userId = 7;
    return { id: this.sessions.getId(session) };
  }

  @Get('whoami')
  whoami(@Session() session: SessionData) {
    return { userId: session.userId ?? null };
  }

  @Get('csrf')
  csrf(@Session() session: SessionData) {
    return { token: this.sessions.getCsrfToken(session) };
  }

  @Post('protected')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  protectedAction() {
    return { ok: true };
  }

  @Get('protected')
  @UseGuards(CsrfGuard)
  safeAction() {
    return { ok: true };
  }

  @Get('flash/:message')
  flash(@Session() session: SessionData, @Param('message') message: string) {
    this.sessions.flash(session, message, 'info', false);
    return { queued: this.sessions.peekFlash(session, 'info') };
  }

  @Get('pop-flash')
  popFlash(@Session() session: SessionData) {
    return { messages: this.sessions.popFlash(session, 'info') };
  }

  @Get('set/:key/:value')
  set(@Session() session: SessionData, @Param('key') key: string, @Param('value') value: string) {
    session[key] = value;
    return { ok: true };
  }

  @Get('dump')
  dump(@Session() session: SessionData) {
    return { keys: Object.keys(session), data: session, isNew: this.sessions.isNew(session) };
  }

  @Get('own-cookie')
  ownCookie(@Session() session: SessionData, @Res({ passthrough: true }) response: any) {
    session.x = 1;
    // Both platforms: the app sets a cookie of its own beside the session's.
    if (typeof response.append === 'function') response.append('Set-Cookie', 'theme=dark; Path=/');
    else response.header('set-cookie', 'theme=dark; Path=/');
    return { ok: true };
  }

  /** The raw `writeHead` with headers as an array: flat (`[k, v, k, v]`) or as pairs. */
  @Get('raw-head/:form')
  rawHead(
    @Session() session: SessionData,
    @Param('form') form: string,
    @Res() response: { raw?: RawOut } & RawOut,
  ) {
    session.raw = form;
    const out = response.raw ?? response;
    out.writeHead(200, RAW_HEADERS[form]);
    out.end('{"ok":true}');
  }

  @Get('huge')
  huge(@Session() session: SessionData) {
    session.blob = 'x'.repeat(1024 * 1024);
    return { ok: true };
  }

  @Get('fn')
  fn(@Session() session: SessionData) {
    session.ok = 'yes';
    session.fn = () => 1;
    return { ok: true };
  }

  @Get('symbol')
  symbol(@Session() session: SessionData) {
    session.sym = Symbol('x');
    return { ok: true };
  }

  @Get('slow-write/:gate/:key')
  async slowWrite(
    @Session() session: SessionData,
    @Param('gate') gate: string,
    @Param('key') key: string,
  ) {
    await this.latches.wait(gate);
    session[key] = 'late';
    return { ok: true };
  }

  @Get('slow-regenerate/:gate')
  async slowRegenerate(@Session() session: SessionData, @Param('gate') gate: string) {
    await this.latches.wait(gate);
    this.sessions.regenerate(session);
    return { id: this.sessions.getId(session) };
  }

  @Get('slow-read/:gate')
  async slowRead(@Session() session: SessionData, @Param('gate') gate: string) {
    await this.latches.wait(gate);
    return { userId: session.userId ?? null };
  }

  @Get('logout')
  logout(@Session() session: SessionData) {
    this.sessions.invalidate(session);
    return { ok: true };
  }

  @Get('timeout/:seconds')
  timeout(@Session() session: SessionData, @Param('seconds') seconds: string) {
    this.sessions.adjustTimeout(session, Number(seconds));
    return { ok: true };
  }

  @Post('body-token')
  @HttpCode(200)
  @UseGuards(CsrfGuard)
  bodyToken(@Body() body: unknown) {
    return { ok: Boolean(body) };
  }
}
