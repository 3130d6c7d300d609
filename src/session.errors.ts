import {
  HttpStatus,
  InternalServerErrorException,
  ServiceUnavailableException,
} from '@nestjs/common';

/**
 * Message factories, kept together so that logs and errors say the same thing.
 * @internal
 */
export const MESSAGES = {
  invalidOptions: (problems: string[]) =>
    `RedisSession configuration error: ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`,
  unserializable: (key: string, reason: string) =>
    `Session value "${key}" cannot be serialized: ${reason}. Nothing of this commit was written.`,
  tooLarge: (size: number, max: number) =>
    `Session is ${size} bytes serialized, more than max_size (${max}). Nothing of this commit was written.`,
  tooManyFields: (count: number, max: number) =>
    `Session has ${count} keys, more than max_fields (${max}). Nothing of this commit was written.`,
  storeUnavailable: 'Session store unavailable',
  noCookieForNewId:
    'regenerate() and login() need an HTTP response to carry the new session cookie, and a ' +
    'WebSocket message has none: log in over HTTP, then reconnect the socket',
  notLoaded:
    'No session for this context: is RedisSessionModule imported? In a ws gateway, call ' +
    'sessionService.bindSocket(client, request) in handleConnection; with globalInterceptor: false, ' +
    'a gateway needs @UseSession() (its messages are committed by the interceptor).',
};

/** Thrown at boot when settings or options are missing or invalid; names every problem. @publicApi */
export class InvalidSessionOptionsError extends Error {
  /** Each problem, one line each, as the message lists them. */
  declare readonly problems: string[];

  constructor(problems: string[]) {
    super(MESSAGES.invalidOptions(problems));
    this.name = 'InvalidSessionOptionsError';
    // Not enumerable: an uncaught error prints its own properties, and the list is already the message.
    Object.defineProperty(this, 'problems', { value: problems, enumerable: false });
  }
}

/** A session value that the serializer cannot encode (BigInt, a cycle, a function). @publicApi */
export class SessionSerializationError extends InternalServerErrorException {
  constructor(
    public readonly key: string,
    reason: string,
  ) {
    super(MESSAGES.unserializable(key, reason));
  }
}

/** A commit larger than `max_size`. @publicApi */
export class SessionTooLargeError extends InternalServerErrorException {
  constructor(
    public readonly size: number,
    public readonly maxSize: number,
  ) {
    super(MESSAGES.tooLarge(size, maxSize));
  }
}

/** A commit with more top-level keys than `max_fields`. @publicApi */
export class SessionTooManyFieldsError extends InternalServerErrorException {
  constructor(
    public readonly count: number,
    public readonly maxFields: number,
  ) {
    super(MESSAGES.tooManyFields(count, maxFields));
  }
}

/**
 * The session store could not answer in time (Redis down, hung, failing over).
 * Answers 503 with a fixed message: the Redis error itself is logged, never sent to the client.
 * @publicApi
 */
export class SessionStoreUnavailableException extends ServiceUnavailableException {
  constructor(cause?: unknown) {
    super(
      {
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        message: MESSAGES.storeUnavailable,
        error: 'Service Unavailable',
      },
      { cause },
    );
  }
}

/** Data under a session key that is not a session (wrong type, bad JSON, missing meta fields). @publicApi */
export class CorruptSessionError extends Error {
  constructor(reason: string) {
    super(`Corrupt session data: ${reason}`);
    this.name = 'CorruptSessionError';
  }
}
