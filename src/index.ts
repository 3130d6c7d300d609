export * from './csrf.guard.js';
export * from './json-session.serializer.js';
export * from './memory-session.store.js';
export * from './redis-session-module-options.interface.js';
export * from './redis-session.constants.js';
export * from './redis-session.module.js';
export { REDIS_SESSION_MODULE_OPTIONS } from './redis-session.module-definition.js';
export type {
  RedisSessionModuleAsyncOptions,
  RedisSessionModuleForRootOptions,
} from './redis-session.module-definition.js';
export * from './redis-session.store.js';
export { generateSessionId, signSessionId } from './cookie-signature.util.js';
export * from './session-data.interface.js';
export * from './session-serializer.interface.js';
export { SESSION_SETTING_NAMES, sessionOptionsFromSettings } from './session-settings.js';
export * from './session-store.interface.js';
export * from './session.decorator.js';
export {
  CorruptSessionError,
  InvalidSessionOptionsError,
  SessionSerializationError,
  SessionStoreUnavailableException,
  SessionTooLargeError,
} from './session.errors.js';
export * from './session.interceptor.js';
export * from './session.service.js';
