export * from './security/csrf.guard.js';
export * from './session/json-session.serializer.js';
export * from './store/memory-session.store.js';
export * from './config/redis-session-module-options.interface.js';
export * from './redis-session.constants.js';
export * from './redis-session.module.js';
export { REDIS_SESSION_MODULE_OPTIONS } from './redis-session.module-definition.js';
export type {
  RedisSessionModuleAsyncOptions,
  RedisSessionModuleForRootOptions,
} from './redis-session.module-definition.js';
export * from './store/redis-session.store.js';
export { generateSessionId, signSessionId } from './security/cookie-signature.util.js';
export * from './session-data.interface.js';
export * from './session/session-serializer.interface.js';
export { SESSION_SETTING_NAMES, sessionOptionsFromSettings } from './config/session-settings.js';
export * from './store/session-store.interface.js';
export * from './session.decorator.js';
export {
  CorruptSessionError,
  InvalidSessionOptionsError,
  SessionSerializationError,
  SessionStoreUnavailableException,
  SessionTooLargeError,
  SessionTooManyFieldsError,
} from './session.errors.js';
export * from './session.interceptor.js';
export * from './session.service.js';
export type { UserId } from './session/session-state.js';
export * from './http/express-session.middleware.js';
export type { ExpressSessionCookie } from './http/express-session-cookie.js';
export * from './health/session-store.health.js';
export {
  SESSION_EVENTS,
  type SessionEvent,
  type SessionEventListener,
  type SessionEventType,
} from './users/session-events.js';
export { sessionRequestResponse, type SessionRequestResponse } from './http/execution-context.js';
