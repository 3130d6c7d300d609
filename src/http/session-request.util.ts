import type { ExecutionContext } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionData } from '../session-data.interface.js';
import type { SessionState } from '../session/session-state.js';

/** What the library keeps on a raw request: the load in progress and, once done, the state. @internal */
export interface SessionSlot {
  promise: Promise<SessionData>;
  state?: SessionState;
  committed?: boolean;
}

/** Metadata key marking handlers that take `@Session()`: the interceptor loads for them only. @internal */
export const USES_SESSION = 'redis-session:uses-session';

/** Slot key on the raw Node request, shared by Express, Fastify and middleware. @internal */
export const SESSION_SLOT = Symbol('nestjs-redis-sessions:slot');

type AnyRequest = IncomingMessage & {
  raw?: IncomingMessage;
  secure?: boolean;
  protocol?: string;
  [SESSION_SLOT]?: SessionSlot;
};

/** The raw Node request behind an Express, Fastify or raw request. @internal */
export function rawRequest(request: object): AnyRequest {
  return ((request as AnyRequest).raw ?? request) as AnyRequest;
}

/** The session slot of a request, if its session was asked for. @internal */
export function slotOf(request: object): SessionSlot | undefined {
  return rawRequest(request)[SESSION_SLOT];
}

/**
 * The HTTP request of an execution context, or `undefined` for contexts without one. Other
 * transports (GraphQL, WebSocket) get their request found here, in one place.
 * @internal
 */
export function requestOf(context: ExecutionContext): object | undefined {
  if (context.getType() !== 'http') return undefined;
  return context.switchToHttp().getRequest();
}

/**
 * Whether the request came over HTTPS, as the framework sees it: Express's `req.secure` and
 * Fastify's `request.protocol` honour the app's trust-proxy setting; a raw request only knows its socket.
 * @internal
 */
export function isHttps(request: object): boolean {
  const req = request as AnyRequest;
  if (typeof req.secure === 'boolean') return req.secure;
  if (typeof req.protocol === 'string') return req.protocol === 'https';
  return Boolean((rawRequest(request).socket as { encrypted?: boolean } | undefined)?.encrypted);
}

type AnyResponse = ServerResponse & {
  raw?: ServerResponse;
  sent?: boolean;
  header?: (name: string, value: string) => unknown;
  append?: (name: string, value: string) => unknown;
};

/** Whether the response has already gone out (a handler that used `@Res()` itself). @internal */
export function headersSent(response: object): boolean {
  const res = response as AnyResponse;
  return Boolean(res.raw ? res.sent || res.raw.headersSent : res.headersSent);
}

/**
 * Adds a Set-Cookie header next to any the app set: Fastify's `reply.header` and Express's
 * `res.append` both accumulate set-cookie values; a raw response gets them merged by hand.
 * @internal
 */
export function appendSetCookie(response: object, value: string): void {
  const res = response as AnyResponse;
  if (res.raw && typeof res.header === 'function') {
    res.header('set-cookie', value);
  } else if (typeof res.append === 'function') {
    res.append('Set-Cookie', value);
  } else {
    const existing = res.getHeader('set-cookie');
    const list =
      existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
    res.setHeader('set-cookie', [...list, value]);
  }
}
