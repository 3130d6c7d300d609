import type { SessionSerializer } from './session-serializer.interface.js';
import { META, SYSTEM, SessionState, fieldOf, keyOf } from './session-state.js';
import { validMs, validTimeout } from './session-meta.js';
import {
  CorruptSessionError,
  SessionSerializationError,
  SessionTooLargeError,
  SessionTooManyFieldsError,
} from '../session.errors.js';

/** What a commit writes, computed before any I/O so that a bad value writes nothing. @internal */
export interface Delta {
  set: string[];
  remove: string[];
  /** Every field, for creating a session; left empty when the session already exists. */
  all: string[];
  /** Whether the session holds any field at all (an empty new session is never stored). */
  empty: boolean;
}

/** UTF-8 bytes of field/value pairs. */
function bytesOfPairs(pairs: string[]): number {
  let bytes = 0;
  for (const text of pairs) bytes += Buffer.byteLength(text);
  return bytes;
}

/** UTF-8 bytes of stored fields. */
function bytesOf(fields: Map<string, string>): number {
  let bytes = 0;
  for (const [field, text] of fields) bytes += Buffer.byteLength(field) + Buffer.byteLength(text);
  return bytes;
}

/**
 * Whether a size counted in UTF-16 units is over a byte limit: UTF-8 takes 1 to 3 bytes per unit,
 * so only a count between a third of the limit and the limit needs the exact bytes.
 */
function overLimit(units: number, limit: number, bytes: () => number): boolean {
  if (units * 3 <= limit) return false;
  if (units > limit) return true;
  return bytes() > limit;
}

/** Deepest nesting a stored value may have: deeper JSON parses, but cannot be serialized again. */
const MAX_DEPTH = 1000;

/** Whether JSON text nests deeper than `MAX_DEPTH` (brackets inside strings do not count). */
function tooDeep(text: string): boolean {
  // Fewer characters than twice the limit cannot nest that deep: the common case costs nothing.
  if (text.length < MAX_DEPTH * 2) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > MAX_DEPTH) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

/** What a library field must hold: flash queues are arrays, the CSRF token a string. */
function validSystemValue(field: string, value: unknown): boolean {
  if (field === SYSTEM.csrf) return typeof value === 'string';
  if (field === SYSTEM.user) return typeof value === 'string' || typeof value === 'number';
  if (field === SYSTEM.persistentCookie) return value === true;
  if (field.startsWith('$f:')) return Array.isArray(value);
  return true;
}

/**
 * A session state from the stored fields; throws `CorruptSessionError` on anything that is not a
 * session (or that the request path could not carry: a value nested too deep to serialize again,
 * a stored session larger than `max_size`), so the caller can start a fresh one instead.
 * @internal
 */
export function reviveSession(
  id: string,
  fields: Map<string, string>,
  serializer: SessionSerializer,
  maxSize?: number,
): SessionState {
  const created = Number(fields.get(META.created));
  const deadlineText = fields.get(META.deadline);
  const timeoutText = fields.get(META.timeout);
  const deadline = deadlineText === undefined ? undefined : Number(deadlineText);
  const timeout = timeoutText === undefined ? undefined : Number(timeoutText);
  // The load script's bounds, checked here too: a read that skips the slide never runs it.
  if (
    !validMs(created) ||
    (deadline !== undefined && !validMs(deadline)) ||
    (timeout !== undefined && !validTimeout(timeout))
  ) {
    throw new CorruptSessionError('meta fields are not valid numbers');
  }
  const data: Record<string, unknown> = {};
  const state = new SessionState(id, data, created, deadline, timeout);
  let size = 0;
  for (const [field, text] of fields) {
    size += field.length + text.length;
    if (field === META.created || field === META.deadline || field === META.timeout) continue;
    if (tooDeep(text))
      throw new CorruptSessionError(`field ${field.length} chars long nests too deep`);
    const key = keyOf(field);
    let value: unknown;
    try {
      value = serializer.deserialize(text);
    } catch (error) {
      // The parser's message may quote the stored bytes: keep only its kind.
      throw new CorruptSessionError(
        `a field could not be deserialized (${(error as Error)?.name ?? 'error'})`,
      );
    }
    if (key !== undefined) {
      // A stored "__proto__" must become plain data, never the object's prototype.
      if (key === '__proto__')
        Object.defineProperty(data, key, {
          value,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      else data[key] = value;
    } else {
      if (!validSystemValue(field, value))
        throw new CorruptSessionError('a library field has the wrong type');
      state.system.set(field, value);
    }
    state.snapshot.set(field, text);
  }
  if (maxSize !== undefined && overLimit(size, maxSize, () => bytesOf(fields))) {
    throw new CorruptSessionError(`the stored session is larger than max_size (${maxSize} bytes)`);
  }
  state.persisted = true;
  state.isNew = false;
  state.loadedId = id;
  state.loadedUser = state.user;
  state.loadedCsrf = state.system.get(SYSTEM.csrf) as string | undefined;
  return state;
}

/**
 * Serializes every field once and compares with the snapshot; throws, naming the key, before any
 * write.
 * @internal
 */
export function sessionDelta(
  state: SessionState,
  serializer: SessionSerializer,
  maxSize: number | undefined,
  /** Collect every field (only a create needs them; an update writes `set` and `remove`). */
  withAll: boolean,
  maxFields?: number,
): Delta {
  const set: string[] = [];
  const all: string[] = [];
  // Counted in UTF-16 units, which bound UTF-8 bytes within 3x: exact bytes are computed only
  // for a session that could be over the limit, never on the common path.
  let size = 0;
  let kept = 0;
  let count = 0;
  const add = (field: string, name: string, value: unknown) => {
    let text: string;
    try {
      text = serializer.serialize(value);
    } catch (error) {
      throw new SessionSerializationError(name, error?.message ?? String(error));
    }
    if (typeof text !== 'string')
      throw new SessionSerializationError(name, 'the serializer did not return a string');
    count++;
    if (withAll) all.push(field, text);
    size += field.length + text.length;
    const before = state.snapshot.get(field);
    if (before !== undefined) kept++;
    if (before !== text) set.push(field, text);
  };
  const data = state.data as Record<string, unknown>;
  const keys = Object.keys(data);
  if (maxFields !== undefined && keys.length > maxFields)
    throw new SessionTooManyFieldsError(keys.length, maxFields);
  for (const key of keys) {
    const value = data[key];
    if (value !== undefined) add(fieldOf(key), key, value);
  }
  for (const [field, value] of state.system) if (value !== undefined) add(field, field, value);
  // Only a commit that writes can grow the session: a read never fails on the limit.
  if (maxSize !== undefined && (set.length > 0 || withAll)) {
    // Every field's text, for the rare exact count: `all` when collected, else one more pass.
    const texts = () => (withAll ? all : sessionDelta(state, serializer, undefined, true).all);
    if (overLimit(size, maxSize, () => bytesOfPairs(texts())))
      throw new SessionTooLargeError(bytesOfPairs(texts()), maxSize);
  }
  const remove: string[] = [];
  if (kept < state.snapshot.size) {
    for (const field of state.snapshot.keys()) {
      const key = keyOf(field);
      const present =
        key === undefined
          ? state.system.get(field) !== undefined
          : data[key] !== undefined && Object.hasOwn(data, key);
      if (!present) remove.push(field);
    }
  }
  return { set, remove, all, empty: count === 0 };
}
