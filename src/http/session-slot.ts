import { IncomingMessage, type ServerResponse } from 'node:http';
import type { SessionData } from '../session-data.interface.js';
import type { SessionState } from '../session/session-state.js';

/**
 * What the library keeps on a raw request: the load in progress, the state once loaded, and how
 * far the commit got. One slot per HTTP request (or per WebSocket message).
 * @internal
 */
export interface SessionSlot {
  promise: Promise<SessionData>;
  state?: SessionState;
  /** Set when the commit starts: a request commits at most once. */
  committed?: boolean;
  /** The handler (or a resolver) threw: identity changes made in this request are dropped. */
  failed?: boolean;
}

/**
 * Where a request's slot is kept. On a plain Node request (Fastify's, a raw one) a symbol
 * property: cheap, and the hidden class it adds is shared by every request. Express gives each
 * request a prototype of its own app, after which V8 makes a new hidden class for every property
 * added (about 2 µs each, and old-space garbage), so there the slot goes in a WeakMap instead (a
 * WeakMap for every request would cost Fastify its young-generation GC: entries outlive a
 * scavenge, 2.4 KB promoted per /write). Both keys are `Symbol.for`: an ESM and a CJS copy of the
 * library loaded in one process must find each other's slots, or a guard using one copy and the
 * interceptor of the other would load twice.
 */
const SESSION_SLOT = Symbol.for('nestjs-redis-sessions:slot');
const SLOTS_KEY = Symbol.for('nestjs-redis-sessions:slots');
const SLOTS: WeakMap<object, SessionSlot> = ((globalThis as Record<symbol, unknown>)[SLOTS_KEY] ??=
  new WeakMap<object, SessionSlot>()) as WeakMap<object, SessionSlot>;

/** Set-Cookie values to add to a response that has no session commit (Fastify's onSend adds them). @internal */
export const EXTRA_COOKIES = Symbol.for('nestjs-redis-sessions:extra-cookies');

/** A raw Node request as the library sees it. @internal */
export type SlottedRequest = IncomingMessage & {
  [SESSION_SLOT]?: SessionSlot;
  raw?: IncomingMessage;
  res?: ServerResponse;
  secure?: boolean;
  protocol?: string;
  [EXTRA_COOKIES]?: string[];
};

/** The raw Node request behind an Express, Fastify or raw request. @internal */
export function rawRequest(request: object): SlottedRequest {
  return ((request as SlottedRequest).raw ?? request) as SlottedRequest;
}

/** The session slot of a request, if its session was asked for. @internal */
export function slotOf(request: object): SessionSlot | undefined {
  return slotOfRaw(rawRequest(request));
}

/** The slot of a raw request, read directly (the boundary hooks have the raw request). @internal */
export function slotOfRaw(raw: object): SessionSlot | undefined {
  return (raw as SlottedRequest)[SESSION_SLOT] ?? SLOTS.get(raw);
}

/** Gives a raw request its slot. @internal */
export function setSlot(raw: object, slot: SessionSlot): void {
  if (Object.getPrototypeOf(raw) === IncomingMessage.prototype)
    (raw as SlottedRequest)[SESSION_SLOT] = slot;
  else SLOTS.set(raw, slot);
}

/** The raw response Express puts on its request; a Fastify or bare request (a WebSocket message) has none. @internal */
export function rawResponseOf(raw: SlottedRequest): ServerResponse | undefined {
  const res = raw.res as (ServerResponse & { writeHead?: unknown }) | undefined;
  return res !== undefined && typeof res.writeHead === 'function' ? res : undefined;
}

/**
 * Whether the request came over HTTPS, as the framework sees it: Express's `req.secure` and
 * Fastify's `request.protocol` honour the app's trust-proxy setting; a raw request only knows its socket.
 * @internal
 */
export function isHttps(request: object): boolean {
  const req = request as SlottedRequest;
  if (typeof req.secure === 'boolean') return req.secure;
  if (typeof req.protocol === 'string') return req.protocol === 'https';
  return Boolean((rawRequest(request).socket as { encrypted?: boolean } | undefined)?.encrypted);
}

/**
 * Whether this request's session cookies carry `Secure`: `cookie_secure` as configured, `auto`
 * resolved by `isHttps`. @internal
 */
export function secureFor(cookieSecure: boolean | 'auto', request: object): boolean {
  return cookieSecure === 'auto' ? isHttps(request) : cookieSecure;
}

/**
 * Raw requests that GraphQL resolvers ran in. Their response is a 200 whether or not a field
 * failed, so the boundary reads the body for errors (a guard's refusal never reaches the
 * interceptor). Kept apart from the slot: a resolver may run before anything loads the session.
 */
const GRAPHQL_REQUESTS = new WeakSet<object>();

/** Notes that GraphQL resolvers run in this request. @internal */
export function markGraphqlRequest(request: object): void {
  GRAPHQL_REQUESTS.add(rawRequest(request));
}

/** Whether GraphQL resolvers ran in this request. @internal */
export function isGraphqlRequest(request: object): boolean {
  return GRAPHQL_REQUESTS.has(rawRequest(request));
}
