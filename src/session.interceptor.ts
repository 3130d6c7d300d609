import {
  Inject,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Observable, type Subscription } from 'rxjs';
import { sessionRequestResponse, type SessionRequestResponse } from './http/execution-context.js';
import { markGraphqlRequest, slotOf } from './http/session-slot.js';
import { SESSION_MANAGER } from './redis-session.providers.js';
import { rawResponseFor, usesSession } from './session.decorator.js';
import { SessionManager } from './session/session.manager.js';

/** Message scopes an interceptor already serves. */
const SERVED_MESSAGES = new WeakSet<object>();

/**
 * Loads the session before handlers that take `@Session()` (and only those: a route that never
 * touches the session costs no Redis command). HTTP sessions are committed at the response
 * boundary, so writes from guards, filters, the app's own interceptors and every GraphQL resolver
 * of a request are saved too; a WebSocket message's session is committed when its handler ends.
 * Registered globally by `RedisSessionModule` (or per controller with `@UseSession()`); exported
 * to be subclassed.
 * @publicApi
 */
@Injectable()
export class SessionInterceptor implements NestInterceptor {
  /** Whether each handler takes @Session(), looked up once per handler. */
  private readonly usage = new WeakMap<Function, boolean>();

  constructor(@Inject(SESSION_MANAGER) protected readonly manager: SessionManager) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    // The common case first, with no allocation: an HTTP route that does not take @Session().
    if (context.getType() === 'http' && !this.usesSession(context)) return next.handle();
    const found = this.getRequestResponse(context);
    if (found === undefined) return next.handle();
    // On Nest 12 a gateway message meets this interceptor twice (global, and on the gateway for
    // Nest 11's sake): the first serves it.
    if (found.messageScoped) {
      if (SERVED_MESSAGES.has(found.request)) return next.handle();
      SERVED_MESSAGES.add(found.request);
    }
    const { request } = found;
    if (context.getType<string>() === 'graphql') markGraphqlRequest(request);
    // The handler runs once its session is loaded, so `@Session()` hands it over synchronously
    // (measured faster end to end than letting the pipe await a load started here).
    const load = this.usesSession(context)
      ? this.manager.load(request, rawResponseFor(context, found.response))
      : undefined;
    // HTTP marks its failures by status at the boundary; GraphQL answers 200 with errors, so a
    // resolver's throw is marked here.
    if (load === undefined && !found.messageScoped) {
      return context.getType() === 'http' ? next.handle() : this.markFailures(request, next);
    }
    // One hand-written Observable instead of a chain of operators: this runs on every request.
    return new Observable<unknown>((subscriber) => {
      let inner: Subscription | undefined;
      let unsubscribed = false;
      // A message's answer waits for its save: the client never hears "done" for a lost write.
      const held: unknown[] = [];
      const run = () => {
        if (unsubscribed) return;
        inner = next.handle().subscribe({
          next: (value) => (found.messageScoped ? held.push(value) : subscriber.next(value)),
          error: (error) => {
            const slot = slotOf(request);
            if (slot !== undefined) slot.failed = true;
            if (!found.messageScoped) return subscriber.error(error);
            const fail = () => subscriber.error(error);
            this.commitMessage(request, 500).then(fail, fail);
          },
          complete: () => {
            if (!found.messageScoped) return subscriber.complete();
            this.commitMessage(request, 200).then(
              () => {
                for (const value of held) subscriber.next(value);
                subscriber.complete();
              },
              (error) => subscriber.error(error),
            );
          },
        });
      };
      if (load === undefined) run();
      else load.then(run, (error) => subscriber.error(error));
      return () => {
        unsubscribed = true;
        inner?.unsubscribe();
      };
    });
  }

  /**
   * The request (and response) of this context: HTTP, GraphQL or a WebSocket message. Override to
   * serve another transport; `undefined` leaves the context alone.
   */
  protected getRequestResponse(context: ExecutionContext): SessionRequestResponse | undefined {
    return sessionRequestResponse(context);
  }

  /** Whether to load before the handler; by default when it declares `@Session()`. */
  protected usesSession(context: ExecutionContext): boolean {
    const handler = context.getHandler();
    let uses = this.usage.get(handler);
    if (uses === undefined) {
      uses = usesSession(context.getClass(), handler);
      this.usage.set(handler, uses);
    }
    return uses;
  }

  /**
   * Routes that do not load the session may still have had it loaded by a guard: a throw from
   * the handler must mark it failed, so the boundary drops identity changes.
   */
  private markFailures(request: object, next: CallHandler): Observable<unknown> {
    return new Observable<unknown>((subscriber) =>
      next.handle().subscribe({
        next: (value) => subscriber.next(value),
        error: (error) => {
          const slot = slotOf(request);
          if (slot !== undefined) slot.failed = true;
          subscriber.error(error);
        },
        complete: () => subscriber.complete(),
      }),
    );
  }

  /** A WebSocket message has no response to hold: its session commits when the handler ends. */
  private async commitMessage(request: object, status: number): Promise<void> {
    if (slotOf(request) === undefined) return;
    await this.manager.commit(request, status, true);
  }
}
