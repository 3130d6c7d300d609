import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Observable, type Subscription } from 'rxjs';
import { USES_SESSION, requestOf, slotOf } from './http/session-request.util.js';
import { SessionManager } from './session/session.manager.js';

/**
 * Loads the session before handlers that take `@Session()` (and only those: a route that never
 * touches the session costs no Redis command), and commits whatever the request changed before
 * the response is released, so a redirect never outruns its own save. Registered globally by
 * `RedisSessionModule` (or per controller with `@UseSession()`); exported to be subclassed.
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
    const load = this.usesSession(context) ? this.manager.load(request) : undefined;
    // One hand-written Observable instead of a chain of operators: this runs on every request.
    return new Observable<unknown>((subscriber) => {
      let inner: Subscription | undefined;
      let pending: Promise<unknown> | undefined;
      let unsubscribed = false;
      const fail = (error: unknown) => subscriber.error(error);
      const run = () => {
        if (unsubscribed) return;
        inner = next.handle().subscribe({
          next: (value) => {
            if (!slotOf(request)?.state) return subscriber.next(value);
            pending = (pending ?? Promise.resolve())
              .then(() => this.manager.commit(request, response))
              .then(() => subscriber.next(value), fail);
          },
          error: (error) => {
            void (pending ?? Promise.resolve())
              .then(() => this.commitOnError(request, response, error))
              .then(() => fail(error), fail);
          },
          complete: () => {
            if (pending === undefined) subscriber.complete();
            else void pending.then(() => subscriber.complete());
          },
        });
      };
      if (load === undefined) run();
      else load.then(run, fail);
      return () => {
        unsubscribed = true;
        inner?.unsubscribe();
      };
    });
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

  private async commitOnError(request: object, response: object, error: unknown): Promise<void> {
    const slot = slotOf(request);
    if (!slot?.state || slot.committed) return;
    if (this.shouldCommitOnError(error)) await this.manager.commit(request, response);
    else slot.committed = true;
  }
}
