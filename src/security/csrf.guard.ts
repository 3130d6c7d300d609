import {
  ForbiddenException,
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { safeEqual } from './cookie-signature.util.js';
import { requestOf } from '../http/session-request.util.js';
import { SYSTEM, stateOf } from '../session/session-state.js';
import { SessionService } from '../session.service.js';

/** Message of the 403 CsrfGuard answers. @publicApi */
export const CSRF_REJECTED_MESSAGE = 'Invalid or missing CSRF token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Synchronizer-token CSRF protection: POST, PUT, PATCH and DELETE pass only with the session's
 * token (from `SessionService.getCsrfToken`) in the `X-CSRF-Token` header or a `csrf_token` body
 * field, compared in constant time. Never read from the query string, where tokens leak into
 * logs and Referer headers. Answers 403 otherwise; safe methods pass.
 * @example @UseGuards(CsrfGuard) @Post('transfer') transfer() {}
 * @publicApi
 */
@Injectable()
export class CsrfGuard implements CanActivate {
  constructor(protected readonly sessions: SessionService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = requestOf(context) as
      { method?: string; headers?: Record<string, unknown>; body?: unknown } | undefined;
    if (request === undefined || SAFE_METHODS.has(String(request.method).toUpperCase()))
      return true;
    const presented = this.presentedToken(request);
    if (presented === undefined) throw new ForbiddenException(CSRF_REJECTED_MESSAGE);
    const session = await this.sessions.load(request);
    const expected = stateOf(session).system.get(SYSTEM.csrf);
    if (typeof expected !== 'string' || !safeEqual(presented, expected)) {
      throw new ForbiddenException(CSRF_REJECTED_MESSAGE);
    }
    return true;
  }

  /** The token the client sent: the header first, then a `csrf_token` body field. */
  protected presentedToken(request: {
    headers?: Record<string, unknown>;
    body?: unknown;
  }): string | undefined {
    const header = request.headers?.['x-csrf-token'];
    if (typeof header === 'string' && header !== '') return header;
    const body = request.body as Record<string, unknown> | undefined;
    const field = body && typeof body === 'object' ? body.csrf_token : undefined;
    return typeof field === 'string' && field !== '' ? field : undefined;
  }
}
