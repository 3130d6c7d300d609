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

/** Runs the commit when the response is about to go out; told whether the headers already left. @internal */
export type BoundaryCommit = (
  headersLeft: boolean,
  status: number,
) => BoundaryOutcome | Promise<BoundaryOutcome>;

type Writer = (...args: unknown[]) => unknown;

/** Appends Set-Cookie values to the headers a deferred `writeHead(status, headers)` carries. */
function mergeIntoWriteHead(args: unknown[], name: string, values: string[]): void {
  const at = typeof args[1] === 'string' ? 2 : 1;
  const headers = args[at];
  if (Array.isArray(headers)) {
    // Raw arrays come flat ([k, v, k, v]) or as pairs ([[k, v]]): keep the app's form (CVE-2025-7339).
    if (Array.isArray(headers[0])) for (const v of values) headers.push([name, v]);
    else for (const v of values) headers.push(name, v);
    return;
  }
  if (headers !== null && typeof headers === 'object') {
    const record = headers as OutgoingHttpHeaders;
    const key = Object.keys(record).find((k) => k.toLowerCase() === name) ?? name;
    const existing = record[key];
    const list =
      existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
    record[key] = name === 'set-cookie' ? [...list, ...values] : list.length > 0 ? list : values[0];
  }
}

/** Whether a deferred `writeHead` names a header itself. */
function writeHeadHas(args: unknown[], name: string): boolean {
  const headers = args[typeof args[1] === 'string' ? 2 : 1];
  if (Array.isArray(headers)) {
    const flat = (Array.isArray(headers[0]) ? headers.flat() : headers) as unknown[];
    return flat.some((v, i) => i % 2 === 0 && String(v).toLowerCase() === name);
  }
  return (
    headers !== null &&
    typeof headers === 'object' &&
    Object.keys(headers).some((k) => k.toLowerCase() === name)
  );
}

/** Adds Set-Cookie values beside any the app set on the raw response. @internal */
export function appendRawSetCookie(res: ServerResponse, values: string[]): void {
  const existing = res.getHeader('set-cookie');
  const list =
    existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  res.setHeader('set-cookie', [...list, ...values]);
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
  committedElsewhere: () => boolean = () => false,
): void {
  const target = res as unknown as Record<string, Writer>;
  const writeHead = res.writeHead as unknown as Writer;
  const write = res.write as unknown as Writer;
  const end = res.end as unknown as Writer;
  const flushHeaders = res.flushHeaders as unknown as Writer;
  let deferred: unknown[] | undefined;
  let headersLeft = false;
  let committing = false;
  let done = false;

  const release = () => {
    if (deferred === undefined) return;
    const args = deferred;
    deferred = undefined;
    writeHead.apply(res, args);
  };
  const letHeadersGo = () => {
    if (!done && !committing) headersLeft = true;
    release();
  };

  target.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (done || committing || committedElsewhere()) return writeHead.apply(this, args);
    deferred = args;
    return this;
  };
  target.write = function (this: ServerResponse, ...args: unknown[]) {
    letHeadersGo();
    return write.apply(this, args);
  };
  target.flushHeaders = function (this: ServerResponse, ...args: unknown[]) {
    letHeadersGo();
    return flushHeaders.apply(this, args);
  };
  target.end = function (this: ServerResponse, ...args: unknown[]) {
    if (done || committing || committedElsewhere()) {
      release();
      return end.apply(this, args);
    }
    committing = true;
    const left = headersLeft || res.headersSent;
    const status = deferred !== undefined ? Number(deferred[0]) : res.statusCode;
    const finish = (outcome: BoundaryOutcome) => {
      done = true;
      if (outcome.replace && !left) {
        deferred = undefined;
        res.statusCode = outcome.replace.status;
        for (const name of ['content-length', 'content-type', 'etag', 'content-encoding'])
          res.removeHeader(name);
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.setHeader('content-length', Buffer.byteLength(outcome.replace.body));
        if (outcome.cookies.length > 0) appendRawSetCookie(res, outcome.cookies);
        end.call(res, outcome.replace.body);
        return;
      }
      if (!left) apply(res, deferred, outcome);
      release();
      end.apply(res, args);
    };
    const outcome = commit(left, status);
    // A read-only request commits synchronously: the response ends in this same call.
    if (!(outcome instanceof Promise)) {
      finish(outcome);
      return this;
    }
    outcome.then(finish, () => {
      done = true;
      release();
      end.apply(res, args);
    });
    return this;
  };
}

function apply(
  res: ServerResponse,
  deferred: unknown[] | undefined,
  outcome: BoundaryOutcome,
): void {
  if (outcome.cookies.length > 0) {
    if (deferred !== undefined && writeHeadHas(deferred, 'set-cookie'))
      mergeIntoWriteHead(deferred, 'set-cookie', outcome.cookies);
    else appendRawSetCookie(res, outcome.cookies);
  }
  for (const [name, value] of outcome.headers) {
    if (res.hasHeader(name) || (deferred !== undefined && writeHeadHas(deferred, name))) {
      if (name === 'vary') appendVary(res, deferred, value);
      continue;
    }
    res.setHeader(name, value);
  }
}

/** Adds a token to Vary unless it is already there (or `*`). */
function appendVary(res: ServerResponse, deferred: unknown[] | undefined, token: string): void {
  if (deferred !== undefined && writeHeadHas(deferred, 'vary')) return;
  const current = String(res.getHeader('vary') ?? '');
  const tokens = current.split(',').map((t) => t.trim().toLowerCase());
  if (tokens.includes('*') || tokens.includes(token.toLowerCase())) return;
  res.setHeader('vary', current ? `${current}, ${token}` : token);
}

/** Vary merging for any header map (Fastify's reply). @internal */
export function varyWith(current: string | undefined, token: string): string | undefined {
  if (!current) return token;
  const tokens = current.split(',').map((t) => t.trim().toLowerCase());
  if (tokens.includes('*') || tokens.includes(token.toLowerCase())) return undefined;
  return `${current}, ${token}`;
}
