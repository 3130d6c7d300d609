import { Logger } from '@nestjs/common';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** What the response boundary learns from a commit. @internal */
export interface BoundaryOutcome {
  /** Set-Cookie values to add (the session cookie, a cleared legacy cookie). */
  cookies: string[];
  /** Headers to add unless the app set them (Cache-Control, Vary). */
  headers: [string, string][];
  /** The commit failed on a response that was going to succeed: answer this instead. */
  replace?: { status: number; body: string };
}

/**
 * Runs the commit when the response is about to go out; told whether the headers already left,
 * and given the last chunk of the body (a GraphQL response's errors are in it).
 * @internal
 */
export type BoundaryCommit = (
  headersLeft: boolean,
  status: number,
  body: unknown,
) => BoundaryOutcome | Promise<BoundaryOutcome>;

type Writer = (...args: unknown[]) => unknown;

const logger = new Logger('RedisSession');

/** The 500 body the library sends in place of a response it cannot send: the detail stays in the log. @internal */
export const GENERIC_500 = JSON.stringify({ statusCode: 500, message: 'Internal server error' });

/**
 * Sets the headers of a `writeHead` that is being deferred on the response now, as Node itself
 * does once any header was set, and leaves the call only its status (and reason). The commit then
 * adds its cookie and headers beside the app's with the plain header API, whatever form the app
 * used: an object, a flat array (`[k, v, k, v]`) or pairs (`[[k, v]]`), each name once with all
 * its values. Node 20 copies an array with `setHeader`, so a second `Set-Cookie` in it replaced the
 * first and pairs threw (CVE-2025-7339 is the same mistake in on-headers); here a bad header
 * throws at the app's own call, as it would without the hold.
 */
function takeHeaders(res: ServerResponse, args: unknown[]): unknown[] {
  const at = typeof args[1] === 'string' ? 2 : 1;
  const headers = args[at];
  if (headers === undefined || headers === null) return args;
  if (!Array.isArray(headers)) {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders))
      if (name) res.setHeader(name, value as string | string[]);
    return args.slice(0, at);
  }
  const flat = (Array.isArray(headers[0]) ? headers.flat() : headers) as unknown[];
  // An odd list is the app's own mistake: Node names it when the deferred call goes out.
  if (flat.length % 2 !== 0) return args;
  const byName = new Map<string, { name: string; values: string[] }>();
  for (let i = 0; i < flat.length; i += 2) {
    const name = String(flat[i]);
    const entry = byName.get(name.toLowerCase()) ?? { name, values: [] };
    const value = flat[i + 1];
    entry.values.push(...(Array.isArray(value) ? value.map(String) : [String(value)]));
    byName.set(name.toLowerCase(), entry);
  }
  for (const { name, values } of byName.values())
    res.setHeader(name, values.length === 1 ? values[0] : values);
  return args.slice(0, at);
}

/** Adds Set-Cookie values beside any the app set on the raw response. @internal */
export function appendRawSetCookie(res: ServerResponse, values: string[]): void {
  const existing = res.getHeader('set-cookie');
  const list =
    existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('set-cookie', [...list, ...values]);
}

/**
 * The hold of each held response. A WeakMap, never a property on the response: Express gives each
 * response a prototype of its own app, after which V8 makes a new hidden class for every property
 * added to it (measured: 18 µs to add the four wrappers, and the garbage of five hidden classes,
 * per request). Per copy of the library: a second copy holding the same response wraps this
 * one's wrappers with its own, each finding its own hold.
 */
const HOLDS = new WeakMap<object, Hold>();

/** For each prototype a held response had, the same prototype with the wrappers on top. */
const HELD_PROTOTYPES = new WeakMap<object, object>();

interface Hold {
  writeHead: Writer;
  write: Writer;
  end: Writer;
  flushHeaders: Writer;
  /** Held through the wrappers on its app's shared response prototype (Express). */
  shared: boolean;
  commit: BoundaryCommit;
  committedElsewhere: () => boolean;
  /** A `writeHead` waiting for the commit. */
  deferred: unknown[] | undefined;
  headersLeft: boolean;
  committing: boolean;
  done: boolean;
}

const WRAPPED = ['writeHead', 'write', 'end', 'flushHeaders'] as const;

type WrappedName = (typeof WRAPPED)[number];

const never = () => false;

/**
 * Sends a deferred `writeHead`, if there is one. Deferred past the handler, the call can no
 * longer throw at the app (nor to Nest's exception filter): a bad one (an invalid header, an odd
 * header list) is logged and answered 500 instead of taking the process down.
 */
function release(res: ServerResponse, hold: Hold): boolean {
  const args = hold.deferred;
  if (args === undefined) return true;
  hold.deferred = undefined;
  try {
    hold.writeHead.apply(res, args);
    return true;
  } catch (error) {
    logger.error(`The response's writeHead failed: ${(error as Error)?.message ?? String(error)}`);
    res.statusCode = 500;
    return false;
  }
}

/** Ends a held response with `body` in place of the app's, as JSON. */
function endWith(res: ServerResponse, hold: Hold, body: string): void {
  for (const name of ['content-length', 'content-type', 'etag', 'content-encoding'])
    res.removeHeader(name);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  hold.end.call(res, body);
}

/** A body (or flushed headers) before the end: the headers go now, without a cookie. */
function letHeadersGo(res: ServerResponse, hold: Hold): void {
  if (!hold.done && !hold.committing) hold.headersLeft = true;
  release(res, hold);
}

/** What each wrapper does with a held response; the shared prototype's wrappers call it directly. */
type HeldLogic = (res: ServerResponse, hold: Hold, args: unknown[]) => unknown;

const writeHeadHeld: HeldLogic = (res, hold, args) => {
  if (hold.done || hold.committing || hold.committedElsewhere())
    return hold.writeHead.apply(res, args);
  hold.deferred = takeHeaders(res, args);
  return res;
};

const writeHeld: HeldLogic = (res, hold, args) => {
  letHeadersGo(res, hold);
  return hold.write.apply(res, args);
};

const flushHeadersHeld: HeldLogic = (res, hold, args) => {
  letHeadersGo(res, hold);
  return hold.flushHeaders.apply(res, args);
};

const endHeld: HeldLogic = (res, hold, args) => {
  if (hold.done || hold.committing || hold.committedElsewhere()) {
    release(res, hold);
    return hold.end.apply(res, args);
  }
  hold.committing = true;
  const left = hold.headersLeft || res.headersSent;
  const status = hold.deferred !== undefined ? Number(hold.deferred[0]) : res.statusCode;
  const outcome = hold.commit(left, status, args[0]);
  // A read-only request commits synchronously: the response ends in this same call.
  if (!(outcome instanceof Promise)) {
    finish(res, hold, args, left, outcome);
    return res;
  }
  outcome.then(
    (settled) => finish(res, hold, args, left, settled),
    () => {
      hold.done = true;
      release(res, hold);
      hold.end.apply(res, args);
    },
  );
  return res;
};

const HELD_LOGIC: Record<WrappedName, HeldLogic> = {
  writeHead: writeHeadHeld,
  write: writeHeld,
  end: endHeld,
  flushHeaders: flushHeadersHeld,
};

// The wrappers are the same four functions for every response (never closures made per request),
// so the responses they are set on keep one hidden class between them.
function heldWriteHead(this: ServerResponse, ...args: unknown[]) {
  return writeHeadHeld(this, HOLDS.get(this)!, args);
}

function heldWrite(this: ServerResponse, ...args: unknown[]) {
  return writeHeld(this, HOLDS.get(this)!, args);
}

function heldFlushHeaders(this: ServerResponse, ...args: unknown[]) {
  return flushHeadersHeld(this, HOLDS.get(this)!, args);
}

function heldEnd(this: ServerResponse, ...args: unknown[]) {
  return endHeld(this, HOLDS.get(this)!, args);
}

function finish(
  res: ServerResponse,
  hold: Hold,
  args: unknown[],
  left: boolean,
  outcome: BoundaryOutcome,
): void {
  hold.done = true;
  if (outcome.replace && !left) {
    hold.deferred = undefined;
    res.statusCode = outcome.replace.status;
    if (outcome.cookies.length > 0) appendRawSetCookie(res, outcome.cookies);
    endWith(res, hold, outcome.replace.body);
    return;
  }
  if (!left) apply(res, outcome);
  // The app's own writeHead threw, too late to reach the app: a generic 500, as Nest would send.
  if (!release(res, hold) && !res.headersSent) return endWith(res, hold, GENERIC_500);
  hold.end.apply(res, args);
}

/** Starts holding `res`, with the methods the wrappers pass on to. */
function newHold(
  res: ServerResponse,
  methods: Record<WrappedName, Writer>,
  shared: boolean,
  commit: BoundaryCommit,
  committedElsewhere: () => boolean,
): void {
  HOLDS.set(res, {
    writeHead: methods.writeHead,
    write: methods.write,
    end: methods.end,
    flushHeaders: methods.flushHeaders,
    shared,
    commit,
    committedElsewhere,
    deferred: undefined,
    headersLeft: false,
    committing: false,
    done: false,
  });
}

/**
 * Holds a raw Node response until the session has committed, the way express-session does: the
 * commit starts when the response ends, and the headers (with the cookie) leave only after it.
 * A `writeHead` before the end is deferred to it; a body written before the end (SSE, a stream)
 * lets the headers go, and the commit is then told they left (no cookie can follow them).
 * @internal
 */
export function holdNodeResponse(
  res: ServerResponse,
  commit: BoundaryCommit,
  /** The commit already ran elsewhere (Fastify's onSend): the response passes straight through. */
  committedElsewhere: () => boolean = never,
): void {
  if (HOLDS.has(res)) return;
  // Middleware that wrapped a method on the response itself (compression, say) keeps its place
  // outside ours only if ours go on the response too.
  if (WRAPPED.some((name) => Object.hasOwn(res, name))) {
    // The methods in effect now: that library's own wrappers, or the prototype's.
    newHold(res, res as unknown as Record<WrappedName, Writer>, false, commit, committedElsewhere);
    const target = res as unknown as Record<string, Writer>;
    target.writeHead = heldWriteHead as Writer;
    target.write = heldWrite as Writer;
    target.flushHeaders = heldFlushHeaders as Writer;
    target.end = heldEnd as Writer;
    return;
  }
  const prototype = Object.getPrototypeOf(res) as object;
  // Express's `app.response` is an object of the app's own (made with Object.create, so it has no
  // `constructor` of its own), shared by every response of that app: the wrappers go on it once.
  if (!Object.hasOwn(prototype, 'constructor')) {
    newHold(res, shareWrappers(prototype), true, commit, committedElsewhere);
    return;
  }
  // A class's prototype (Node's ServerResponse: Fastify's raw response, a plain http server) is
  // never changed: one prototype swap, cached per prototype, puts the wrappers in front of it.
  newHold(res, res as unknown as Record<WrappedName, Writer>, false, commit, committedElsewhere);
  let held = HELD_PROTOTYPES.get(prototype);
  if (held === undefined) {
    const method = (value: unknown) => ({ value, writable: true, configurable: true });
    held = Object.create(prototype, {
      writeHead: method(heldWriteHead),
      write: method(heldWrite),
      end: method(heldEnd),
      flushHeaders: method(heldFlushHeaders),
    }) as object;
    HELD_PROTOTYPES.set(prototype, held);
  }
  Object.setPrototypeOf(res, held);
}

/**
 * For each shared response prototype that carries the wrappers, the methods they pass on to.
 * Swapping each held response's prototype instead cost Express about 27k instructions per
 * request (callgrind, /read): V8 makes a new hidden class for every object whose prototype
 * changes. On the shared prototype, a response that is not held only passes through.
 */
const SHARED_PROTOTYPES = new WeakMap<object, Record<WrappedName, Writer>>();

/** Puts pass-through wrappers on a shared response prototype, once; what they pass on to. */
function shareWrappers(prototype: object): Record<WrappedName, Writer> {
  let onward = SHARED_PROTOTYPES.get(prototype);
  if (onward !== undefined) return onward;
  const parent = Object.getPrototypeOf(prototype) as Record<WrappedName, Writer>;
  onward = {} as Record<WrappedName, Writer>;
  for (const name of WRAPPED) {
    // A method the prototype had of its own (another copy of this library's wrapper) is kept;
    // otherwise the parent's is looked up at each call, so instrumentation added later is kept.
    const own = Object.getOwnPropertyDescriptor(prototype, name)?.value as Writer | undefined;
    const next: Writer =
      own ??
      function (this: unknown, ...args: unknown[]) {
        return parent[name].apply(this, args);
      };
    const logic = HELD_LOGIC[name];
    onward[name] = next;
    Object.defineProperty(prototype, name, {
      value: function (this: ServerResponse, ...args: unknown[]) {
        // The hold found here is the one the logic uses: one lookup per call.
        const hold = HOLDS.get(this);
        return hold?.shared === true ? logic(this, hold, args) : next.apply(this, args);
      },
      writable: true,
      configurable: true,
    });
  }
  SHARED_PROTOTYPES.set(prototype, onward);
  return onward;
}

function apply(res: ServerResponse, outcome: BoundaryOutcome): void {
  if (outcome.cookies.length > 0) appendRawSetCookie(res, outcome.cookies);
  for (const [name, value] of outcome.headers) {
    if (!res.hasHeader(name)) res.setHeader(name, value);
    else if (name === 'vary') {
      const merged = varyWith(String(res.getHeader('vary')), value);
      if (merged !== undefined) res.setHeader('vary', merged);
    }
  }
}

/** Vary merging for any header map (Fastify's reply). @internal */
export function varyWith(current: string | undefined, token: string): string | undefined {
  if (!current) return token;
  const tokens = current.split(',').map((t) => t.trim().toLowerCase());
  if (tokens.includes('*') || tokens.includes(token.toLowerCase())) return undefined;
  return `${current}, ${token}`;
}
