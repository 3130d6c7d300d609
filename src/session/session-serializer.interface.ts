/**
 * Encodes one top-level session value to the string stored in its Redis hash field, and back.
 * `serialize` must throw for values it cannot encode; `deserialize` must throw for text it
 * cannot decode (the session is then treated as corrupt: a fresh session, never a 500).
 * @publicApi
 */
export interface SessionSerializer {
  serialize(value: unknown): string;
  deserialize(text: string): unknown;
}
