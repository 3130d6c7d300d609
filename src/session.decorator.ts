import {
  Inject,
  Injectable,
  UseInterceptors,
  createParamDecorator,
  type ArgumentMetadata,
  type ExecutionContext,
  type PipeTransform,
  type Type,
} from '@nestjs/common';
import { requestOf } from './http/execution-context.js';
import { slotOf } from './http/session-slot.js';
import { SESSION_MANAGER } from './redis-session.providers.js';
import { MESSAGES } from './session.errors.js';
import { SessionInterceptor } from './session.interceptor.js';
import { SessionManager } from './session/session.manager.js';

/**
 * The type of `@Session()`, spelled out so the emitted declaration names only types that Nest 11
 * and Nest 12 both export (an inferred one would name Nest 12's `ParameterDecoratorOptions`).
 * @publicApi
 */
export type SessionParamDecorator = (
  ...dataOrPipes: (string | undefined | PipeTransform | Type<PipeTransform>)[]
) => ParameterDecorator;

/** Metadata key marking handlers that take `@Session()`: the interceptor loads for them. @internal */
export const USES_SESSION = 'redis-session:uses-session';

/** What the decorator hands its pipe when the session is not loaded yet. */
const PENDING = Symbol.for('nestjs-redis-sessions:pending');

interface Pending {
  [PENDING]: object;
}

/**
 * Whether a handler declares `@Session()`. The mark sits on the handler function (where
 * method-wrapping decorators that keep metadata carry it along) and on its class and name.
 * @internal
 */
export function usesSession(controller: Function, handler: Function): boolean {
  return (
    Reflect.getMetadata(USES_SESSION, handler) === true ||
    Reflect.getMetadata(USES_SESSION, controller, handler.name) === true
  );
}

/**
 * Loads the session for `@Session()` when nothing loaded it before the handler: with
 * `globalInterceptor: false`, in GraphQL resolvers and in WebSocket handlers.
 * @internal
 */
@Injectable()
export class SessionLoadPipe implements PipeTransform {
  constructor(@Inject(SESSION_MANAGER) private readonly manager: SessionManager) {}

  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    // Loaded already (the interceptor ran): a plain return, no promise on the hot path.
    if (value === null || typeof value !== 'object' || !(PENDING in value)) return value;
    return this.manager
      .load((value as Pending)[PENDING])
      .then((data) => (metadata.data === undefined ? data : data[metadata.data as string]));
  }
}

const base = createParamDecorator((key: string | undefined, context: ExecutionContext) => {
  const request = requestOf(context);
  if (request === undefined) throw new Error(MESSAGES.notLoaded);
  const state = slotOf(request)?.state;
  if (state === undefined) return { [PENDING]: request } satisfies Pending;
  return key === undefined ? state.data : state.data[key];
});

/**
 * The request's session as a plain-looking object: read, assign and `delete` keys, mutate nested
 * values; everything is persisted at the end of the request. `@Session('key')` gives one value.
 * Works in controllers, GraphQL resolvers and WebSocket gateways.
 *
 * Import it from `nestjs-redis-sessions`, not `@nestjs/common` (whose `Session` reads
 * `req.session` and knows nothing of this library); `RedisSession` is the same decorator under a
 * name that cannot be confused.
 * @example
 * @Get('count') count(@Session() session: SessionData) { session.n = ((session.n as number) ?? 0) + 1; }
 * @publicApi
 */
export const Session: SessionParamDecorator = (...dataOrPipes) => {
  const [first, ...rest] = dataOrPipes;
  const key = typeof first === 'string' || first === undefined ? first : undefined;
  const pipes = (key === first ? rest : dataOrPipes) as (PipeTransform | Type<PipeTransform>)[];
  const decorate = base(key, SessionLoadPipe, ...pipes);
  return (target: object, propertyKey: string | symbol | undefined, index: number) => {
    if (propertyKey !== undefined) {
      Reflect.defineMetadata(USES_SESSION, true, target.constructor, propertyKey);
      const handler = (target as Record<string | symbol, unknown>)[propertyKey];
      if (typeof handler === 'function') Reflect.defineMetadata(USES_SESSION, true, handler);
    }
    decorate(target, propertyKey, index);
  };
};

/**
 * `@Session()` under a name that cannot be mistaken for `@nestjs/common`'s `Session`.
 * @publicApi
 */
export const RedisSession: SessionParamDecorator = Session;

/**
 * Binds the session interceptor to a controller or a handler. Optional with `globalInterceptor:
 * false`: `@Session()` loads the session by itself there, and guards or middleware calling
 * `SessionService.load()` are committed at the response boundary all the same.
 * @example @UseSession() @Controller('cart') export class CartController {}
 * @publicApi
 */
export function UseSession(): MethodDecorator & ClassDecorator {
  return UseInterceptors(SessionInterceptor);
}
