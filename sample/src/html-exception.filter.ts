import { Catch, HttpException, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { SessionService } from 'nestjs-redis-sessions';
import { errorPage } from './views/error.view.js';
import type { PageFrame } from './views/layout.js';

/** The path of a request on either platform (Express keeps the original in `originalUrl`). */
function pathOf(request: { originalUrl?: string; url?: string }): string {
  return (request.originalUrl ?? request.url ?? '/').split('?')[0];
}

/** The status an error answers: an HttpException's, a platform error's (body too large…), or 500. */
function statusOf(exception: unknown): number {
  if (exception instanceof HttpException) return exception.getStatus();
  const code = (exception as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' && Number.isInteger(code) && code >= 400 && code < 600
    ? code
    : 500;
}

/**
 * Errors on pages become pages: 401 says "please log in" with a link to /login, 403 (a missing
 * or wrong CSRF token) says the form expired, and so on. Under /api, and outside HTTP, Nest's
 * own JSON answer (and logging of unexpected errors) stays as it is.
 */
@Catch()
export class HtmlExceptionFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('ExceptionsHandler');

  constructor(private readonly sessions: SessionService) {
    super();
  }

  /**
   * Who is logged in, for the nav of an error page (a 403 or 404 while logged in still says so).
   * Reads the session (the request's own, loaded once) and writes nothing; when even that fails
   * (a 503: the store is down), the page shows no user.
   */
  private async frameOf(request: object): Promise<Pick<PageFrame, 'user' | 'csrfToken'>> {
    try {
      const session = await this.sessions.load(request);
      if (!session.user) return {};
      return { user: session.user.name, csrfToken: this.sessions.getCsrfToken(session) };
    } catch {
      return {};
    }
  }

  async catch(exception: unknown, host: ArgumentsHost): Promise<void> {
    if (host.getType() !== 'http') return super.catch(exception, host);
    const http = host.switchToHttp();
    const request = http.getRequest();
    const path = pathOf(request);
    if (path === '/api' || path.startsWith('/api/')) return super.catch(exception, host);
    const adapter = this.httpAdapterHost!.httpAdapter;
    const response = http.getResponse();
    if (adapter.isHeadersSent(response)) return super.catch(exception, host);
    const status = statusOf(exception);
    if (status >= 500 && !(exception instanceof HttpException)) this.logger.error(exception);
    const frame = status === 401 || status === 503 ? {} : await this.frameOf(request);
    adapter.setHeader(response, 'Content-Type', 'text/html; charset=utf-8');
    adapter.setHeader(response, 'Cache-Control', 'no-store');
    adapter.reply(response, errorPage(status, path, frame), status);
  }
}
