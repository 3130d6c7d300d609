import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { catchError, from, mergeMap, of, switchMap, type Observable } from 'rxjs';
import { USES_SESSION } from './session.decorator.js';
import { requestOf, slotOf } from './session-request.util.js';
import { SessionManager } from './session.manager.js';

/**
 * Loads the session before handlers that take `@Session()` (and only those: a route that never
 * touches the session costs no Redis command), and commits whatever the request changed before
 * the response is released, so a redirect never outruns its own save. Registered globally by
 * `RedisSessionModule`; exported to be subclassed.
 * @publicApi
 */
@Injectable()
export class SessionInterceptor implements NestInterceptor {
  private readonly usage = new WeakMap<Function, boolean>();

  constructor(protected readonly manager: SessionManager) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = requestOf(context);
    if (request === undefined) return next.handle();
    const response = context.switchToHttp().getResponse<object>();
    if (this.usesSession(context)) {
      return from(this.manager.load(request)).pipe(
        switchMap(() => this.handle(next, request, response)),
      );
    }
    return this.handle(next, request, response);
  }

  /** Whether the handler declares `@Session()`; overridable to load for more routes. */
  protected usesSession(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let uses = this.usage.get(handler);
    if (uses === undefined) {
      uses = Reflect.getMetadata(USES_SESSION, context.getClass(), handler.name) === true;
      this.usage.set(handler, uses);
    }
    return uses;
  }

  /** Whether to commit when the handler threw; `cookie_on_exception` by default. */
  protected shouldCommitOnError(_error: unknown): boolean {
    return this.manager.config.cookieOnException;
  }

  private handle(next: CallHandler, request: object, response: object): Observable<unknown> {
    return next.handle().pipe(
      mergeMap((value) =>
        slotOf(request)?.state
          ? from(this.manager.commit(request, response).then(() => value))
          : of(value),
      ),
      catchError(async (error) => {
        const slot = slotOf(request);
        if (slot?.state && !slot.committed) {
          if (this.shouldCommitOnError(error)) await this.manager.commit(request, response);
          else slot.committed = true;
        }
        throw error;
      }),
    );
  }
}
