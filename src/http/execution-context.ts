import type { ExecutionContext } from '@nestjs/common';
import { slotOf } from './session-slot.js';

/** The request (and response, where there is one) behind an execution context. @publicApi */
export interface SessionRequestResponse {
  /** The HTTP request (Express, Fastify or raw), or the per-message scope of a WebSocket. */
  request: object;
  /** The HTTP response, when the context has one. */
  response?: object;
  /** No HTTP response carries this session (a WebSocket message): the interceptor commits it. */
  messageScoped: boolean;
}

/** Per-message scopes of WebSocket handlers, keyed by the argument list guards and interceptors get. */
const MESSAGE_SCOPES = new WeakMap<object, object>();
/** The scopes themselves: a session loaded for one has no response to carry a cookie. */
const SCOPES = new WeakSet<object>();

/** Whether a request is a WebSocket message's scope (no response, so no cookie can be set). @internal */
export function isMessageScope(request: object): boolean {
  return SCOPES.has(request);
}

/**
 * A client's message scopes whose session has not committed yet, oldest first. A parameter
 * decorator is handed a copy of the argument list (Nest spreads it), so `@Session()` finds its
 * message's scope here, by the arguments themselves; `claimed` keeps messages whose arguments
 * are the same (a primitive payload, no ack) on a scope each, in the order they loaded.
 */
interface InFlight {
  args: unknown[];
  scope: object;
  claimed: boolean;
}
const IN_FLIGHT = new WeakMap<object, InFlight[]>();

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
      const client = context.switchToWs().getClient<object>();
      const handshake = handshakeOf(client);
      if (handshake === undefined) return undefined;
      scope = { headers: { cookie: handshake.headers.cookie } };
      MESSAGE_SCOPES.set(args, scope);
      SCOPES.add(scope);
      const live = (IN_FLIGHT.get(client) ?? []).filter((entry) => uncommitted(entry.scope));
      live.push({ args, scope, claimed: false });
      IN_FLIGHT.set(client, live);
    }
    return { request: scope, messageScoped: true };
  }
  return undefined;
}

/** Whether a message scope's session is loading or loaded, and not committed. */
function uncommitted(scope: object): boolean {
  const slot = slotOf(scope);
  return slot !== undefined && slot.committed !== true;
}

/**
 * The scope of the message whose arguments a parameter decorator got a copy of: the oldest one
 * not claimed yet, else (another `@Session()` parameter of the same handler) the newest claimed.
 */
function claimScope(args: unknown[]): object | undefined {
  const client = args[0];
  const list = typeof client === 'object' && client !== null ? IN_FLIGHT.get(client) : undefined;
  const same = list?.filter(
    (e) =>
      uncommitted(e.scope) &&
      e.args.length === args.length &&
      e.args.every((a, i) => a === args[i]),
  );
  if (same === undefined || same.length === 0) return undefined;
  const entry = same.find((e) => !e.claimed) ?? same[same.length - 1];
  entry.claimed = true;
  return entry.scope;
}

/**
 * The request of a context, or `undefined` for contexts without one. For a WebSocket message,
 * the scope its interceptor loaded, also from the copied arguments a parameter decorator gets.
 * @internal
 */
export function requestOf(context: ExecutionContext): object | undefined {
  if (context.getType<string>() === 'ws') {
    const args = context.getArgs();
    const scope = MESSAGE_SCOPES.get(args) ?? claimScope(args);
    if (scope !== undefined) return scope;
  }
  return sessionRequestResponse(context)?.request;
}
