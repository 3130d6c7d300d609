import { CorruptSessionError } from '../session.errors.js';
import { FORWARD, META, SYSTEM, type SessionState } from './session-state.js';

/**
 * The rules of a session's meta fields, as the Lua scripts in `store/session-scripts.ts` apply
 * them (the scripts cannot import these; they carry the same numbers), for the stores and the
 * request path that read or write without a script.
 */

/** Longest per-session idle timeout (`$t`): ten years, in seconds. @internal */
export const MAX_TIMEOUT_SECONDS = 315_360_000;

/** Past any real time in ms: a `$c` or `$a` beyond it was not written by the library. */
const MAX_MS = 1e14;

/** A valid `$t`, in seconds. @internal */
export const validTimeout = (seconds: number) => seconds > 0 && seconds <= MAX_TIMEOUT_SECONDS;

/** A valid `$c` or `$a`, in ms since the epoch. @internal */
export const validMs = (ms: number) => ms >= 0 && ms < MAX_MS;

/** The idle timeout of a session in ms: its stored `$t` (whole ms, rounded up) or the default. @internal */
export function idleTimeoutMs(stored: string | number | undefined, defaultMs: number): number {
  return stored === undefined ? defaultMs : Math.ceil(Number(stored) * 1000);
}

/** The `touch_interval` slack a session with this idle timeout gets: at most a tenth of it. @internal */
export function touchSlackMs(intervalMs: number, timeoutMs: number): number {
  return Math.min(intervalMs, Math.floor(timeoutMs / 10));
}

/**
 * Stored fields that are neither a session (no `$c`) nor a retired id's forward marker (only
 * `$>`) are corrupt data.
 * @internal
 */
export function assertSessionShape(fields: Map<string, string>): void {
  if (!fields.has(META.created) && !(fields.size === 1 && fields.has(FORWARD)))
    throw new CorruptSessionError('the hash has no meta fields');
}

/**
 * `adjustTimeout`: from now on the session's idle timeout is `seconds`; `0` ends it at commit.
 * @internal
 */
export function applyTimeout(state: SessionState, seconds: number): void {
  if (
    typeof seconds !== 'number' ||
    !Number.isFinite(seconds) ||
    seconds < 0 ||
    seconds > MAX_TIMEOUT_SECONDS
  ) {
    throw new RangeError(
      `Session timeout must be a finite number of seconds from 0 to ${MAX_TIMEOUT_SECONDS}, got ${String(seconds)}`,
    );
  }
  if (seconds === 0) {
    state.intent = 'end';
    return;
  }
  state.timeout = seconds;
  state.timeoutChanged = true;
}

/**
 * Back to the configured idle timeout: the session's own `$t` is removed at commit, so it
 * follows later changes of `timeout` again. @internal
 */
export function resetTimeout(state: SessionState): void {
  state.timeout = undefined;
  state.timeoutChanged = true;
}

/** `persistCookie`: a library field, so the choice is stored with the session. @internal */
export function persistSessionCookie(state: SessionState, persistent: boolean): void {
  if (persistent) state.system.set(SYSTEM.persistentCookie, true);
  else state.system.delete(SYSTEM.persistentCookie);
}

/**
 * A persistent cookie's Max-Age in whole seconds (the session's own idle timeout), or `undefined`
 * when the session has not asked for one. @internal
 */
export function persistentCookieSeconds(
  state: SessionState,
  timeoutSeconds: number,
): number | undefined {
  if (state.system.get(SYSTEM.persistentCookie) !== true) return undefined;
  return Math.max(1, Math.floor(state.timeout ?? timeoutSeconds));
}
