import {
  Catch,
  Controller,
  Get,
  HttpException,
  Injectable,
  Param,
  Res,
  Sse,
  UnauthorizedException,
  UseFilters,
  UseGuards,
  UseInterceptors,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type MessageEvent,
  type NestInterceptor,
  type NestMiddleware,
} from '@nestjs/common';
import { Observable, map, of } from 'rxjs';
import { Session, SessionService, type SessionData } from '../../src/index.js';
import { Latches } from './security-test.controller.js';

/** Loads the session, notes where the user wanted to go, and refuses: an AuthGuard's job. */
@Injectable()
export class ReturnToGuard implements CanActivate {
  constructor(private readonly sessions: SessionService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest();
    const session = await this.sessions.load(request);
    if (session.userId !== undefined) return true;
    session.returnTo = '/private';
    throw new UnauthorizedException();
  }
}

/** Writes from a middleware, on every path, including ones no route matches. */
@Injectable()
export class VisitMiddleware implements NestMiddleware {
  constructor(private readonly sessions: SessionService) {}

  async use(request: { url?: string; originalUrl?: string }, _res: unknown, next: () => void) {
    const url = request.originalUrl ?? request.url ?? '';
    if (url.includes('/no-such-route')) {
      const session = await this.sessions.load(request);
      session.lastMissing = url;
    }
    next();
  }
}

/** An exception filter that writes to the session before answering. */
@Catch(HttpException)
export class NoteErrorFilter implements ExceptionFilter {
  constructor(private readonly sessions: SessionService) {}

  async catch(exception: HttpException, host: ArgumentsHost) {
    const http = host.switchToHttp();
    const session = await this.sessions.load(http.getRequest());
    session.lastError = exception.getStatus();
    const response = http.getResponse();
    const status = exception.getStatus();
    if (typeof response.code === 'function') response.code(status).send({ noted: status });
    else response.status(status).json({ noted: status });
  }
}

/** An app's own interceptor that writes after the handler ran (it wraps the library's). */
@Injectable()
export class StampInterceptor implements NestInterceptor {
  constructor(private readonly sessions: SessionService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest();
    return next.handle().pipe(
      map(async (value) => {
        const session = await this.sessions.load(request);
        session.stamped = true;
        return value;
      }),
    );
  }
}

/** Routes for the response-boundary specs. */
@Controller('b')
export class BoundaryTestController {
  constructor(
    private readonly sessions: SessionService,
    private readonly latches: Latches,
  ) {}

  @Get('private')
  @UseGuards(ReturnToGuard)
  private() {
    return { ok: true };
  }

  @Get('filtered')
  @UseFilters(NoteErrorFilter)
  filtered(@Session() session: SessionData) {
    session.beforeThrow = true;
    throw new HttpException('teapot', 418);
  }

  @Get('many')
  many(@Session() session: SessionData): Observable<unknown> {
    return new Observable((subscriber) => {
      for (const n of [1, 2, 3]) {
        session.emitted = n;
        subscriber.next({ n });
      }
      subscriber.complete();
    });
  }

  @Get('empty')
  empty(@Session() session: SessionData): Observable<unknown> {
    return new Observable((subscriber) => {
      session.empty = true;
      subscriber.complete();
    });
  }

  @Sse('events')
  events(@Session() session: SessionData): Observable<MessageEvent> {
    session.streamed = ((session.streamed as number | undefined) ?? 0) + 1;
    return of({ data: { n: 1 } }, { data: { n: 2 } });
  }

  @Get('stream')
  stream(
    @Session() session: SessionData,
    @Res() res: { raw?: NodeJS.WritableStream } & NodeJS.WritableStream,
  ) {
    session.piped = true;
    const out = (res.raw ?? res) as unknown as {
      writeHead(status: number, headers: object): void;
      write(chunk: string): void;
      end(): void;
    };
    out.writeHead(200, { 'content-type': 'text/plain' });
    out.write('a');
    out.end();
  }

  @Get('stamp')
  @UseInterceptors(StampInterceptor)
  stamp() {
    return { ok: true };
  }

  @Get('slow-adjusted-write/:gate')
  async slowWrite(@Session() session: SessionData, @Param('gate') gate: string) {
    await this.latches.wait(gate);
    session.late = true;
    return { ok: true };
  }

  @Get('timeout/:seconds')
  timeout(@Session() session: SessionData, @Param('seconds') seconds: string) {
    this.sessions.adjustTimeout(session, Number(seconds));
    return { ok: true };
  }

  @Get('slow-login/:gate')
  async slowLogin(@Session() session: SessionData, @Param('gate') gate: string) {
    this.sessions.regenerate(session);
    session.userId = gate;
    await this.latches.wait(gate);
    return { id: this.sessions.getId(session) };
  }

  @Get('proto')
  proto(@Session() session: SessionData) {
    const key = '__proto__';
    (session as Record<string, unknown>)[key] = { polluted: true };
    return { own: Object.keys(session) };
  }

  @Get('dump')
  dump(@Session() session: SessionData) {
    return { data: { ...session }, polluted: ({} as { polluted?: unknown }).polluted ?? null };
  }

  @Get('big/:fields')
  big(@Session() session: SessionData, @Param('fields') fields: string) {
    for (let i = 0; i < Number(fields); i++) session[`f${i}`] = i;
    return { ok: true };
  }

  @Get('regenerate')
  regenerate(@Session() session: SessionData) {
    this.sessions.regenerate(session);
    return { id: this.sessions.getId(session) };
  }

  @Get('missing-after-write')
  missingAfterWrite(@Session() session: SessionData) {
    session.beforeNotFound = true;
    throw new HttpException('gone', 404);
  }
}
