import { SessionSerializer } from './session-serializer.interface.js';

/**
 * The default serializer: plain JSON. It revives no classes and runs no code, so whoever can
 * write to Redis can at worst change data, never execute it (unlike pickle or Marshal stores).
 * @publicApi
 */
export class JsonSessionSerializer implements SessionSerializer {
  serialize(value: unknown): string {
    const text = JSON.stringify(value);
    // JSON.stringify returns undefined for functions and symbols: storing nothing silently would lose data.
    if (text === undefined) throw new TypeError(`a ${typeof value} is not JSON`);
    return text;
  }

  deserialize(text: string): unknown {
    return JSON.parse(text);
  }
}
