import type { ModulesContainer } from '@nestjs/core';
import { SessionInterceptor } from './session.interceptor.js';

/** Nest's metadata keys, as strings: `@nestjs/websockets` is an optional peer. */
const GATEWAY_METADATA = 'websockets:is_gateway';
const INTERCEPTORS_METADATA = '__interceptors__';

/** The interceptor instances this library put on gateway classes, so a later app replaces them. */
const ADDED = new WeakSet<object>();

/**
 * Puts the module's interceptor on every WebSocket gateway of the application, as `@UseSession()`
 * would. Nest 11 runs no global interceptor on gateway messages, so a message handler's writes
 * were never saved there; on Nest 12, where the global one runs too, the second one passes the
 * message through. Run before the gateways are bound (the module's constructor): the instance
 * itself goes in the metadata, since an enhancer class added after scanning is not resolved.
 * @internal
 */
export function interceptGateways(
  modules: ModulesContainer,
  /** Left out (`globalInterceptor: false`): only what an earlier app put there is taken off. */
  interceptor?: SessionInterceptor,
): void {
  for (const module of modules.values()) {
    for (const wrapper of module.providers.values()) {
      const type = wrapper.metatype as unknown;
      if (typeof type !== 'function' || !Reflect.getMetadata(GATEWAY_METADATA, type)) continue;
      const current = (Reflect.getMetadata(INTERCEPTORS_METADATA, type) ?? []) as unknown[];
      const kept = current.filter((entry) => !ADDED.has(entry as object));
      // The app's own @UseSession() (or a subclass of the interceptor) already does it.
      const own = kept.some(
        (entry) =>
          entry === SessionInterceptor ||
          (typeof entry === 'function' && entry.prototype instanceof SessionInterceptor) ||
          entry instanceof SessionInterceptor,
      );
      if (interceptor === undefined || own) {
        if (kept.length !== current.length)
          Reflect.defineMetadata(INTERCEPTORS_METADATA, kept, type);
        continue;
      }
      ADDED.add(interceptor);
      Reflect.defineMetadata(INTERCEPTORS_METADATA, [...kept, interceptor], type);
    }
  }
}
