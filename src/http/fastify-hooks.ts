import type { IncomingMessage, ServerResponse } from 'node:http';
import { varyWith, type BoundaryOutcome } from './node-response.js';
import { EXTRA_COOKIES, slotOfRaw, type SlottedRequest } from './session-slot.js';

type Done = (error: Error | null, payload?: unknown) => void;

/** The parts of a Fastify request and reply the hooks use. @internal */
export interface FastifyLikeReply {
  raw: ServerResponse;
  statusCode: number;
  sent?: boolean;
  getHeader(name: string): unknown;
  header(name: string, value: unknown): unknown;
  removeHeader(name: string): unknown;
  code(status: number): unknown;
}

/** The parts of a Fastify instance the hooks use. @internal */
export interface FastifyLikeInstance {
  addHook(name: string, hook: (...args: never[]) => unknown): unknown;
}

/**
 * `request.session` and `request.sessionID` on Fastify's request, read from the raw request
 * where `ExpressSessionMiddleware` (which Nest runs on the raw request) puts them, so passport
 * finds them on the request its guards see.
 * @internal
 */
export function decorateFastifySession(instance: FastifyLikeInstance): void {
  const target = instance as FastifyLikeInstance & {
    hasRequestDecorator?(name: string): boolean;
    decorateRequest?(name: string, value: unknown): unknown;
  };
  for (const name of ['session', 'sessionID']) {
    if (target.hasRequestDecorator?.(name)) continue;
    target.decorateRequest?.(name, {
      getter(this: { raw: Record<string, unknown> }) {
        return this.raw[name];
      },
      setter(this: { raw: Record<string, unknown> }, value: unknown) {
        this.raw[name] = value;
      },
    });
  }
}

/** Commits the request's session and says what the response must carry. @internal */
export type FastifyCommit = (
  request: object,
  headersLeft: boolean,
  status: number,
  body: unknown,
) => BoundaryOutcome | Promise<BoundaryOutcome>;

/** Puts a commit's cookies and headers on the reply; the payload to send. */
function applyOutcome(
  reply: FastifyLikeReply,
  outcome: BoundaryOutcome,
  payload: unknown,
): unknown {
  for (const cookie of outcome.cookies) reply.header('set-cookie', cookie);
  for (const [name, value] of outcome.headers) {
    const current = reply.getHeader(name) as string | undefined;
    if (name === 'vary') {
      const merged = varyWith(current, value);
      if (merged !== undefined) reply.header(name, merged);
    } else if (current === undefined) reply.header(name, value);
  }
  if (!outcome.replace) return payload;
  reply.code(outcome.replace.status);
  reply.removeHeader('content-length');
  reply.header('content-type', 'application/json; charset=utf-8');
  return outcome.replace.body;
}

/** Replies whose commit is waiting on Redis. */
const COMMITTING = new WeakSet<object>();
/** Reply prototypes whose `send` (their own or inherited) already checks COMMITTING. */
const HELD_PROTOTYPES = new WeakSet<object>();
const SEND_HELD = Symbol.for('nestjs-redis-sessions:send-held');

/**
 * While the commit waits on Redis, a second `reply.send()` is ignored. Nest 11's `@Redirect()`
 * (and any handler that sends without awaiting the reply) lets its handler's promise resolve
 * with the reply still in `onSend`; Fastify then sends it again, the headers are written twice
 * and the process dies of ERR_HTTP_HEADERS_SENT. The check is put once on the prototype that
 * owns `send` (a property added to each reply would give every reply a hidden class of its own);
 * the reply is then only marked, and unmarked when the commit settles.
 */
function holdSend(reply: FastifyLikeReply): void {
  COMMITTING.add(reply);
  const direct = Object.getPrototypeOf(reply) as Record<PropertyKey, unknown> | null;
  if (direct === null || HELD_PROTOTYPES.has(direct)) return;
  HELD_PROTOTYPES.add(direct);
  let owner: Record<PropertyKey, unknown> | null = direct;
  while (owner !== null && !Object.hasOwn(owner, 'send')) owner = Object.getPrototypeOf(owner);
  if (owner === null || owner[SEND_HELD] === true || typeof owner.send !== 'function') return;
  const send = owner.send as (this: object, ...args: unknown[]) => unknown;
  owner.send = function heldSend(this: object, ...args: unknown[]) {
    return COMMITTING.has(this) ? this : send.apply(this, args);
  };
  owner[SEND_HELD] = true;
}

/**
 * The response boundary on Fastify: `onSend`, which Fastify awaits before any header leaves (404s
 * and errors included), commits the session, whatever loaded it, and adds its cookie. A callback
 * hook, so a request that never loaded a session pays one property lookup.
 * @internal
 */
export function registerFastifyHooks(instance: FastifyLikeInstance, commit: FastifyCommit): void {
  instance.addHook('onSend', ((
    request: { raw: IncomingMessage },
    reply: FastifyLikeReply,
    payload: unknown,
    done: Done,
  ) => {
    const raw = request.raw as SlottedRequest;
    const extra = raw[EXTRA_COOKIES];
    if (extra !== undefined) {
      raw[EXTRA_COOKIES] = undefined;
      for (const cookie of extra) reply.header('set-cookie', cookie);
    }
    const slot = slotOfRaw(raw);
    if (slot === undefined || slot.committed) return done(null, payload);
    const outcome = commit(request, false, reply.statusCode, payload);
    // A read-only request commits synchronously: the reply goes on in this same tick.
    if (!(outcome instanceof Promise)) return done(null, applyOutcome(reply, outcome, payload));
    holdSend(reply);
    outcome.then(
      (settled) => {
        COMMITTING.delete(reply);
        done(null, applyOutcome(reply, settled, payload));
      },
      () => {
        COMMITTING.delete(reply);
        done(null, payload);
      },
    );
  }) as never);
}
