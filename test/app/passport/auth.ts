// The README's passport recipe, as the test suite runs it: a local strategy, a session
// serializer, a guard that logs in, one that checks, and the routes.
import {
  Controller,
  Get,
  Injectable,
  Module,
  Post,
  Req,
  UnauthorizedException,
  UseGuards,
  createParamDecorator,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { AuthGuard, PassportModule, PassportSerializer, PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-local';
import { CsrfGuard, Session, SessionService, type SessionData } from '../../../src/index.js';

interface PassportRequest {
  logout(done: (err?: unknown) => void): void;
}

/** What express-session code reads and writes on `req.session.cookie`. */
interface CookieRequest {
  session: { cookie: { maxAge: number | null; expires: Date | null; secure: boolean } };
  body?: { remember?: boolean };
}

const THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000;

interface User {
  id: number;
  username: string;
}

const USERS = [{ id: 1, username: 'jane', password: 'correct horse' }];

@Injectable()
export class LocalStrategy extends PassportStrategy(Strategy) {
  validate(username: string, password: string): User {
    const user = USERS.find((u) => u.username === username && u.password === password);
    if (!user) throw new UnauthorizedException();
    return { id: user.id, username: user.username };
  }
}

@Injectable()
export class SessionSerializer extends PassportSerializer {
  serializeUser(user: User, done: (err: Error | null, id?: number) => void) {
    done(null, user.id);
  }

  deserializeUser(id: number, done: (err: Error | null, user?: User | false) => void) {
    const user = USERS.find((u) => u.id === id);
    done(null, user ? { id: user.id, username: user.username } : false);
  }
}

/** Checks the password, then logs in: passport regenerates the session and stores the user. */
@Injectable()
export class LocalAuthGuard extends AuthGuard('local') {
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const result = (await super.canActivate(context)) as boolean;
    await super.logIn(context.switchToHttp().getRequest());
    return result;
  }
}

/** passport works on the raw request: on Fastify, that is `request.raw`. */
const passportRequest = (context: ExecutionContext) => {
  const request = context.switchToHttp().getRequest();
  return request.raw ?? request;
};

const compatRequest = (req: { raw?: CookieRequest }) => req.raw ?? (req as CookieRequest);

/** The logged-in user, as passport deserialized it. */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext) => passportRequest(context).user,
);

@Injectable()
export class AuthenticatedGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return passportRequest(context).isAuthenticated();
  }
}

@Controller()
export class AuthController {
  constructor(private readonly sessions: SessionService) {}

  /** "Remember me" as express-session apps write it: the cookie's maxAge, after the login. */
  @Post('login')
  @UseGuards(LocalAuthGuard)
  login(@Req() req: { user: User; body?: { remember?: boolean }; raw?: CookieRequest }) {
    if (req.body?.remember) compatRequest(req).session.cookie.maxAge = THIRTY_DAYS_MS;
    return req.user;
  }

  /** Back to a browser-session cookie. */
  @Post('forget-me')
  forget(@Req() req: { raw?: CookieRequest }) {
    compatRequest(req).session.cookie.maxAge = null;
    return { ok: true };
  }

  /** express-session code that sets attributes per request, which here come from the settings. */
  @Post('cookie-attributes')
  attributes(@Req() req: { raw?: CookieRequest }) {
    const cookie = compatRequest(req).session.cookie as unknown as Record<string, unknown>;
    cookie.path = '/admin';
    cookie.secure = true;
    cookie.path = '/other';
    return { path: cookie.path, secure: cookie.secure };
  }

  @Get('cookie')
  cookie(@Req() req: { raw?: CookieRequest }) {
    const { maxAge, expires, secure } = compatRequest(req).session.cookie;
    return { maxAge, expires, secure };
  }

  @Get('me')
  @UseGuards(AuthenticatedGuard)
  me(@CurrentUser() user: User) {
    return user;
  }

  @Get('csrf')
  csrf(@Session() session: SessionData) {
    return { token: this.sessions.getCsrfToken(session) };
  }

  @Post('logout')
  @UseGuards(CsrfGuard)
  logout(@Req() req: PassportRequest & { raw?: PassportRequest }) {
    return new Promise((resolve, reject) =>
      (req.raw ?? req).logout((err) => (err ? reject(err) : resolve({ ok: true }))),
    );
  }
}

@Module({
  imports: [PassportModule.register({ session: true })],
  providers: [LocalStrategy, SessionSerializer],
  controllers: [AuthController],
})
export class AuthModule {}
