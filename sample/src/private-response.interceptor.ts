import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { tap, type Observable } from 'rxjs';

/**
 * Every sample response depends on the session, so none may be cached: `Cache-Control: no-store`
 * keeps a page showing the user out of the browser's cache, and Back after logout asks the
 * server again (which answers "please log in"). String bodies are the HTML pages. Works on
 * Express and Fastify alike (through the platform's HTTP adapter).
 */
@Injectable()
export class PrivateResponseInterceptor implements NestInterceptor {
  constructor(private readonly host: HttpAdapterHost) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const adapter = this.host.httpAdapter;
    const response = context.switchToHttp().getResponse();
    adapter.setHeader(response, 'Cache-Control', 'no-store');
    return next.handle().pipe(
      tap((body) => {
        if (typeof body === 'string')
          adapter.setHeader(response, 'Content-Type', 'text/html; charset=utf-8');
      }),
    );
  }
}
