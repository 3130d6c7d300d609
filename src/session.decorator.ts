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
  /** The response to hold, for a handler that writes to the raw one. */
  response?: object;
}

// Nest's own metadata keys and parameter types (@nestjs/common/constants and RouteParamtypes),
// spelled out: Nest 11 and 12 agree on them, and neither exports the constants from its index.
const ROUTE_ARGS_METADATA = '__routeArguments__';
const SSE_METADATA = '__sse__';
const RESPONSE_PARAM = 1;
const NEXT_PARAM = 2;

const rawWriters = new WeakMap<Function, boolean>();

/**
 * The response to hold for the commit, only where the platform's own hook cannot see the response
 * go out. Express needs none passed (its request leads to it); on Fastify `onSend` commits every
 * reply but those of handlers that write to the raw response, and holding costs every request.
 * @internal
 */
export function rawResponseFor(
  context: ExecutionContext,
  response: object | undefined,
): object | undefined {
  // GraphQL servers and WebSocket messages answer through the platform (or not at all).
  if (response === undefined || context.getType() !== 'http') return undefined;
  const handler = context.getHandler();
  let raw = rawWriters.get(handler);
  if (raw === undefined) {
    raw = writesRawResponse(context.getClass(), handler);
    rawWriters.set(handler, raw);
  }
  return raw ? response : undefined;
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
 * Whether a handler answers on the raw response, past the platform's reply (Fastify's `onSend`
 * never runs then): a Server-Sent Events route, or one that takes `@Res()` / `@Next()` without
 * `passthrough`.
 * @internal
 */
export function writesRawResponse(controller: Function, handler: Function): boolean {
  if (Reflect.getMetadata(SSE_METADATA, handler) === true) return true;
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler.name) ?? {}) as Record<
    string,
    { data?: { passthrough?: boolean } }
  >;
  return Object.entries(args).some(([key, arg]) => {
    const type = Number(key.split(':')[0]);
    return (type === RESPONSE_PARAM && arg?.data?.passthrough !== true) || type === NEXT_PARAM;
  });
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
    const pending = value as Pending;
    return this.manager
      .load(pending[PENDING], pending.response)
      .then((data) => (metadata.data === undefined ? data : data[metadata.data as string]));
  }
}

const base = createParamDecorator((key: string | undefined, context: ExecutionContext) => {
  const request = requestOf(context);
  if (request === undefined) throw new Error(MESSAGES.notLoaded);
  const state = slotOf(request)?.state;
  if (state === undefined) {
    const response = rawResponseFor(context, context.switchToHttp().getResponse<object>());
    return { [PENDING]: request, response } satisfies Pending;
  }
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
