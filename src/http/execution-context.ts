import type { ExecutionContext } from '@nestjs/common';

/** The request (and response, where there is one) behind an execution context. @publicApi */
export interface SessionRequestResponse {
  /** The HTTP request (Express, Fastify or raw), or the per-message scope of a WebSocket. */
  request: object;
  /** The HTTP response, when the context has one. */
  response?: object;
  /** No HTTP response carries this session (a WebSocket message): the interceptor commits it. */
  messageScoped: boolean;
}

/** Per-message scopes of WebSocket handlers, keyed by the handler's argument list. */
const MESSAGE_SCOPES = new WeakMap<object, object>();

/** Where a ws socket keeps its handshake request (socket.io has `client.request`). @internal */
export const SOCKET_HANDSHAKE = Symbol.for('nestjs-redis-sessions:handshake');

type GraphqlContext = {
  req?: object;
  request?: object;
  res?: object;
  reply?: { request?: object };
};

type Handshake = { headers: Record<string, string | string[] | undefined> };

/**
 * The handshake request of a WebSocket client: socket.io's `client.request`, or the upgrade
 * request linked by `SessionService.bindSocket` (ws hands it to `handleConnection` only).
 * @internal
 */
export function handshakeOf(client: unknown): Handshake | undefined {
  const socket = client as { request?: Handshake; [SOCKET_HANDSHAKE]?: Handshake } | undefined;
  const handshake = socket?.[SOCKET_HANDSHAKE] ?? socket?.request;
  return handshake?.headers ? handshake : undefined;
}

/**
 * Finds the request (and response) of every context the library serves: HTTP; GraphQL (Apollo's
 * `{ req, res }` context, Mercurius' `{ reply }`), where all resolvers of one HTTP request share
 * its session; and WebSocket messages, each given a fresh scope carrying the handshake's cookie,
 * so every message sees the session as it is now. `undefined` for contexts without a session.
 * This is the one place a new context type is added; `SessionInterceptor.getRequestResponse`
 * calls it and may be overridden.
 * @publicApi
 */
export function sessionRequestResponse(
  context: ExecutionContext,
): SessionRequestResponse | undefined {
  const type = context.getType<string>();
  if (type === 'http') {
    const http = context.switchToHttp();
    return { request: http.getRequest(), response: http.getResponse(), messageScoped: false };
  }
  if (type === 'graphql') {
    const gql = context.getArgs()[2] as GraphqlContext | undefined;
    const request = gql?.req ?? gql?.reply?.request ?? gql?.request;
    if (request === undefined) return undefined;
    return { request, response: gql?.res ?? gql?.reply, messageScoped: false };
  }
  if (type === 'ws') {
    const args = context.getArgs();
    let scope = MESSAGE_SCOPES.get(args);
    if (scope === undefined) {
      const handshake = handshakeOf(context.switchToWs().getClient());
      if (handshake === undefined) return undefined;
      scope = { headers: { cookie: handshake.headers.cookie } };
      MESSAGE_SCOPES.set(args, scope);
    }
    return { request: scope, messageScoped: true };
  }
  return undefined;
}

/** The request of a context, or `undefined` for contexts without one. @internal */
export function requestOf(context: ExecutionContext): object | undefined {
  return sessionRequestResponse(context)?.request;
}
