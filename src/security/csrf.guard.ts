import {
  ForbiddenException,
  Inject,
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { requestOf } from '../http/execution-context.js';
import { SESSION_MANAGER, SESSION_SERVICE } from '../redis-session.providers.js';
import { parse } from 'cookie';
import { rawRequest } from '../http/session-slot.js';
import { anonymousCookieName } from '../session.service.js';
import type { SessionManager } from '../session/session.manager.js';
import { anonymousToken, tokenMatches } from './csrf-token.js';
import { SYSTEM, stateOf } from '../session/session-state.js';
import { SessionService } from '../session.service.js';

/** Message of the 403 CsrfGuard answers. @publicApi */
export const CSRF_REJECTED_MESSAGE = 'Invalid or missing CSRF token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Synchronizer-token CSRF protection: POST, PUT, PATCH and DELETE pass only with the session's
 * token (from `SessionService.getCsrfToken`) in the `X-CSRF-Token` header or a `csrf_token` body
 * field, compared in constant time. Never read from the query string, where tokens leak into
 * logs and Referer headers. Answers 403 otherwise; safe methods pass. On GraphQL, mutations need
 * the token in the header and queries pass; any other context (WebSocket, RPC) is refused.
 * @example @UseGuards(CsrfGuard) @Post('transfer') transfer() {}
 * @publicApi
 */
@Injectable()
export class CsrfGuard implements CanActivate {
  constructor(
    @Inject(SESSION_SERVICE) protected readonly sessions: SessionService,
    @Inject(SESSION_MANAGER) private readonly manager: SessionManager,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const type = context.getType<string>();
    if (type !== 'http' && type !== 'graphql') {
      // A context this guard cannot check (a WebSocket message, RPC) never passes: fail closed.
      throw new ForbiddenException(CSRF_REJECTED_MESSAGE);
    }
    const request = requestOf(context) as
      { method?: string; headers?: Record<string, unknown>; body?: unknown } | undefined;
    if (request === undefined) throw new ForbiddenException(CSRF_REJECTED_MESSAGE);
    if (type === 'graphql') {
      // Queries are reads; a mutation must carry the token in the header (the body is the query).
      const info = context.getArgs()[3] as { operation?: { operation?: string } } | undefined;
      if (info?.operation?.operation !== 'mutation') return true;
      return this.check(request, this.headerToken(request));
    }
    if (SAFE_METHODS.has(String(request.method).toUpperCase())) return true;
    return this.check(request, this.presentedToken(request));
  }

  private async check(request: object, presented: string | undefined): Promise<boolean> {
    if (presented === undefined) throw new ForbiddenException(CSRF_REJECTED_MESSAGE);
    // An anonymous form's token is for a visitor who is not logged in: without a session cookie
    // it costs no Redis command; a logged-in session must present its own token (a token from
    // before the login would otherwise outlive it for the nonce's hour).
    const anonymous = this.anonymousMatches(request, presented);
    const state = stateOf(await this.sessions.load(request));
    if (anonymous && state.user === undefined) return true;
    const expected = state.system.get(SYSTEM.csrf);
    if (typeof expected === 'string' && tokenMatches(presented, expected)) return true;
    // The token the request began with: a login earlier in the same GraphQL document rotated it.
    const loaded = state.loadedCsrf;
    if (loaded !== undefined && loaded !== expected && tokenMatches(presented, loaded)) return true;
    throw new ForbiddenException(CSRF_REJECTED_MESSAGE);
  }

  private anonymousMatches(request: object, presented: string): boolean {
    const { config } = this.manager;
    const header = rawRequest(request).headers?.cookie;
    if (typeof header !== 'string') return false;
    const nonce = parse(header)[anonymousCookieName(config.cookieName)];
    if (nonce === undefined || !/^[A-Za-z0-9_-]{43}$/.test(nonce)) return false;
    return tokenMatches(presented, anonymousToken(nonce, config.secretKeys[0]));
  }

  private headerToken(request: { headers?: Record<string, unknown> }): string | undefined {
    const header = request.headers?.['x-csrf-token'];
    return typeof header === 'string' && header !== '' ? header : undefined;
  }

  /** The token the client sent: the header first, then a `csrf_token` body field. */
  protected presentedToken(request: {
    headers?: Record<string, unknown>;
    body?: unknown;
  }): string | undefined {
    const header = this.headerToken(request);
    if (header !== undefined) return header;
    const body = request.body as Record<string, unknown> | undefined;
    const field = body && typeof body === 'object' ? body.csrf_token : undefined;
    return typeof field === 'string' && field !== '' ? field : undefined;
  }
}
