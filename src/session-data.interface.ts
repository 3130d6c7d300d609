/**
 * The shape of a session, augmentable by declaration merging:
 *
 * ```ts
 * declare module 'nestjs-redis-sessions' {
 *   interface SessionData { userId?: number }
 * }
 * ```
 * Keys that are not declared are `unknown`, so a typo does not pass silently as `any`.
 * @publicApi
 */
export interface SessionData {
  [key: string]: unknown;
}
