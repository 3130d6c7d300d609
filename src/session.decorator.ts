import {
  UseInterceptors,
  createParamDecorator,
  type ExecutionContext,
  type PipeTransform,
  type Type,
} from '@nestjs/common';
import { SessionInterceptor } from './session.interceptor.js';
import { USES_SESSION, requestOf, slotOf } from './http/session-request.util.js';
import { MESSAGES } from './session.errors.js';

/**
 * The type of `@Session()`, spelled out so the emitted declaration names only types that Nest 11
 * and Nest 12 both export (an inferred one would name Nest 12's `ParameterDecoratorOptions`).
 * @publicApi
 */
export type SessionParamDecorator = (
  ...dataOrPipes: (string | undefined | PipeTransform | Type<PipeTransform>)[]
) => ParameterDecorator;

/**
 * The request's session as a plain-looking object: read, assign and `delete` keys, mutate nested
 * values; everything is persisted at the end of the request. `@Session('key')` gives one value.
 *
 * Import it from `nestjs-redis-sessions`, not `@nestjs/common` (whose `Session` reads
 * `req.session` and knows nothing of this library); `RedisSession` is the same decorator under a
 * name that cannot be confused.
 * @example
 * @Get('count') count(@Session() session: SessionData) { session.n = ((session.n as number) ?? 0) + 1; }
 * @publicApi
 */
export const Session: SessionParamDecorator = createParamDecorator(
  (key: string | undefined, context: ExecutionContext) => {
    const request = requestOf(context);
    const state = request && slotOf(request)?.state;
    if (!state) throw new Error(MESSAGES.notLoaded);
    return key === undefined ? state.data : state.data[key];
  },
  [
    (target: object, propertyKey: string | symbol | undefined) => {
      if (propertyKey !== undefined)
        Reflect.defineMetadata(USES_SESSION, true, target.constructor, propertyKey);
    },
  ],
);

/**
 * `@Session()` under a name that cannot be mistaken for `@nestjs/common`'s `Session`.
 * @publicApi
 */
export const RedisSession: SessionParamDecorator = Session;

/**
 * Binds the session interceptor to a controller or a handler. Needed only with
 * `globalInterceptor: false`, where routes that use sessions (through `@Session()`, or a guard or
 * middleware calling `SessionService.load()`) say so, and all other routes run no interceptor.
 * @example @UseSession() @Controller('cart') export class CartController {}
 * @publicApi
 */
export function UseSession(): MethodDecorator & ClassDecorator {
  return UseInterceptors(SessionInterceptor);
}
