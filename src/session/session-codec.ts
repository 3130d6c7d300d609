import type { SessionSerializer } from './session-serializer.interface.js';
import { META, SessionState, fieldOf, keyOf } from './session-state.js';
import {
  CorruptSessionError,
  SessionSerializationError,
  SessionTooLargeError,
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

/**
 * A session state from the stored fields; throws on anything that is not a session, so the caller
 * can start a fresh one instead.
 * @internal
 */
export function reviveSession(
  id: string,
  fields: Map<string, string>,
  serializer: SessionSerializer,
): SessionState {
  const created = Number(fields.get(META.created));
  const deadlineText = fields.get(META.deadline);
  const timeoutText = fields.get(META.timeout);
  const deadline = deadlineText === undefined ? undefined : Number(deadlineText);
  const timeout = timeoutText === undefined ? undefined : Number(timeoutText);
  if (
    !Number.isFinite(created) ||
    (deadline !== undefined && !Number.isFinite(deadline)) ||
    (timeout !== undefined && !(timeout > 0))
  ) {
    throw new CorruptSessionError('meta fields are not numbers');
  }
  const data: Record<string, unknown> = {};
  const state = new SessionState(id, data, created, deadline, timeout);
  for (const [field, text] of fields) {
    const key = keyOf(field);
    if (key !== undefined) {
      const value = serializer.deserialize(text);
      // A stored "__proto__" must become plain data, never the object's prototype.
      if (key === '__proto__')
        Object.defineProperty(data, key, {
          value,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      else data[key] = value;
    } else if (field === META.created || field === META.deadline || field === META.timeout) {
      continue;
    } else {
      state.system.set(field, serializer.deserialize(text));
    }
    state.snapshot.set(field, text);
  }
  state.persisted = true;
  state.isNew = false;
  state.loadedId = id;
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
): Delta {
  const set: string[] = [];
  const all: string[] = [];
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
    if (maxSize !== undefined) size += Buffer.byteLength(field) + Buffer.byteLength(text);
    const before = state.snapshot.get(field);
    if (before !== undefined) kept++;
    if (before !== text) set.push(field, text);
  };
  const data = state.data as Record<string, unknown>;
  for (const key of Object.keys(data)) {
    const value = data[key];
    if (value !== undefined) add(fieldOf(key), key, value);
  }
  for (const [field, value] of state.system) if (value !== undefined) add(field, field, value);
  if (maxSize !== undefined && size > maxSize) throw new SessionTooLargeError(size, maxSize);
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
