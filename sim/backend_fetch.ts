/**
 * HTTP to backends the gateway does not trust: the headers of a POST to a backend session,
 * redirects followed only within the backend's origin (the cluster's Envoy follows none, and a
 * redirect elsewhere would carry the call, and on some runtimes the credential, to a host nobody
 * registered), bodies read within a cap, and a `fetch` that holds the MCP SDK client's answers to
 * the rules the `tools/call` pass-through keeps (`boundedFetch`).
 *
 * The redirect rule is the MCP SDK client's own (`redirectPolicy: "same-origin"`), so the
 * pass-through and the SDK path answer a redirect alike: a 307 or 308 (or any redirect of a GET)
 * to the same scheme, host and port, or from http to https on the same host with default ports,
 * is followed, at most {@linkcode MAX_BACKEND_REDIRECTS} times; any other is an error.
 *
 * @module
 */
import { UpstreamError } from "./errors.ts";
import { type AnswerHeaders, canPostHttp1, type ChunkReader, type Http1Pool } from "./http1.ts";
import { formatSseEvent, type SseEvent, SseLimitError, SseReader } from "./sse.ts";
import { concatBytes } from "./streams.ts";

/** Redirects followed within a backend's origin before the request fails. */
export const MAX_BACKEND_REDIRECTS = 5;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A backend answered with a redirect the gateway does not follow. */
export class BackendRedirectError extends UpstreamError {
  /** Stable code of this error. */
  override readonly code: string = "ERR_UPSTREAM_REDIRECT";
}

/** A backend's response body was larger than the gateway accepts. */
export class BackendBodyLimitError extends UpstreamError {
  /** Stable code of this error. */
  override readonly code: string = "ERR_UPSTREAM_BODY_LIMIT";
  /** The cap, in bytes. */
  readonly limit: number;

  /** `server` answered `what` (`tools/call`) with more than `limit` bytes. */
  constructor(server: string, limit: number, what: string) {
    super(server, `Server ${server} answered ${what} with a body over the ${limit}-byte limit.`);
    this.limit = limit;
  }
}

/** Where and how to reach one backend session. */
export interface BackendTarget {
  /** The registration's MCP endpoint. */
  endpoint: URL;
  /** The registration's credential, sent as `Authorization` (never the client's). */
  credential?: string;
  /** The client's own headers, for a `userSpecificList` server (instead of `credential`). */
  headers?: Record<string, string>;
  /**
   * Headers the AuthPolicy added once it allowed the call (Authorino's success headers): set last,
   * as the auth filter sets them after the router, so one named `authorization` replaces the credential.
   */
  policyHeaders?: Record<string, string>;
  /** The backend's `Mcp-Session-Id`, when it has sessions. */
  sessionId?: string;
  /** Protocol version negotiated with the backend. */
  protocolVersion?: string;
}

/** Headers the gateway owns on a backend POST: a policy's success header cannot replace them. */
const TRANSPORT_OWNED: ReadonlySet<string> = new Set([
  "accept",
  "content-type",
  "content-length",
  "mcp-session-id",
  "mcp-protocol-version",
]);

/** Headers of a POST to a backend session. */
export function backendHeaders(target: BackendTarget): Record<string, string> {
  const h: Record<string, string> = {
    ...target.headers,
    accept: "application/json, text/event-stream",
    "content-type": "application/json",
  };
  if (target.sessionId) h["mcp-session-id"] = target.sessionId;
  if (target.protocolVersion) h["mcp-protocol-version"] = target.protocolVersion;
  if (target.credential) h.authorization = target.credential;
  for (const [name, value] of policyHeaderEntries(target.policyHeaders)) h[name] = value;
  return h;
}

/**
 * The policy's success headers a backend request may carry, names in lower case: all but those the
 * gateway owns on it (see {@linkcode BackendTarget.policyHeaders}).
 */
export function policyHeaderEntries(headers: Record<string, string> | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (!TRANSPORT_OWNED.has(lower)) out.push([lower, value]);
  }
  return out;
}

/** Whether a redirect from `from` to `to` stays within the origin, by the MCP SDK client's rule. */
export function isWithinOrigin(from: URL, to: URL): boolean {
  if (from.origin === to.origin) return true;
  return from.hostname === to.hostname && from.protocol === "http:" && from.port === "" &&
    to.protocol === "https:" && to.port === "";
}

/** Options of {@linkcode fetchBackend}. */
export interface FetchBackendOptions {
  /** The server's name, for error messages. */
  server: string;
  /** What the request is (`tools/call`), for error messages. */
  what: string;
}

/**
 * `fetch` to a backend, following redirects only within its origin. Throws
 * {@linkcode BackendRedirectError} for any other redirect; the message names the target's origin
 * only (its path and query may carry secrets).
 */
export async function fetchBackend(
  url: URL,
  init: RequestInit,
  opts: FetchBackendOptions,
): Promise<Response> {
  let at = url;
  for (let hops = 0;; hops++) {
    const res = await fetch(at, { ...init, redirect: "manual" });
    if (!REDIRECTS.has(res.status)) return res;
    await res.body?.cancel().catch(() => {});
    const location = res.headers.get("location");
    let to: URL | undefined;
    try {
      to = location ? new URL(location, at) : undefined;
    } catch {
      // An unparsable Location is refused below.
    }
    const refuse = (why: string) => new BackendRedirectError(opts.server, `Server ${opts.server} ${why}`);
    if (!to) throw refuse(`answered ${opts.what} with HTTP ${res.status} and no usable Location.`);
    const method = (init.method ?? "GET").toUpperCase();
    if (!isWithinOrigin(at, to)) {
      throw refuse(
        `redirected ${opts.what} to another origin (${to.origin}); redirects are followed only within the server's origin.`,
      );
    }
    if ((to.username || to.password) && (to.username !== at.username || to.password !== at.password)) {
      throw refuse(`redirected ${opts.what} to a URL with other credentials in it.`);
    }
    if (res.status !== 307 && res.status !== 308 && method !== "GET") {
      throw refuse(`answered ${opts.what} with HTTP ${res.status}, a redirect that would change the method.`);
    }
    if (hops === MAX_BACKEND_REDIRECTS) {
      throw refuse(`redirected ${opts.what} more than ${MAX_BACKEND_REDIRECTS} times.`);
    }
    at = to;
  }
}

/** A backend's answer to a POST, however it was read: {@linkcode postBackend}. */
export interface BackendAnswer {
  status: number;
  headers: AnswerHeaders;
  /** The body, read or cancelled by the caller; null when there is none. */
  body: ChunkReader | null;
}

/**
 * POSTs `body` to a backend session: on a kept-alive connection of `pool` where it can (see
 * `http1.ts`; a redirect is then asked again through `fetch`, which follows it), else with
 * {@linkcode fetchBackend}. Either way redirects are followed as {@linkcode fetchBackend} does.
 */
export async function postBackend(
  pool: Http1Pool,
  target: BackendTarget,
  body: string,
  signal: AbortSignal,
  opts: FetchBackendOptions,
): Promise<BackendAnswer> {
  const headers = backendHeaders(target);
  if (canPostHttp1(target.endpoint, headers)) {
    const answer = await pool.post(target.endpoint, headers, body, signal);
    if (!REDIRECTS.has(answer.status)) return answer;
    await answer.body.cancel();
  }
  const res = await fetchBackend(target.endpoint, { method: "POST", headers, body, signal }, opts);
  return { status: res.status, headers: res.headers, body: res.body ? chunkReader(res.body) : null };
}

export type { ChunkReader };

/** First buffer of a {@linkcode chunkReader}: a tools/call answer fits, most in a few hundred bytes. */
const FIRST_READ_BYTES = 16 * 1024;
/** Largest buffer of a {@linkcode chunkReader}, what Deno's default reader takes for every read. */
const MAX_READ_BYTES = 64 * 1024;

/**
 * First buffers of bodies read to their end, for the next body's first read. A buffer is put here
 * only once its body's last read has handed it back, so no earlier chunk is a view of it and no two
 * readers share one; a read returns a view of the bytes it wrote, never the rest of the buffer.
 */
const spareBuffers: ArrayBuffer[] = [];
/** At most this many spare buffers are kept: 512 KiB, whatever the load was. */
const MAX_SPARE_BUFFERS = 32;

/**
 * Reads `body` into one buffer per body, grown while reads fill it, instead of a new zeroed 64 KiB
 * buffer for every read, which is what Deno's default reader of a `fetch` body allocates. With two
 * or three reads per `tools/call` that was most of what the gateway allocated, and the GC work it
 * caused. The first buffer of a body read to its end serves a later body (see `spareBuffers`).
 * A body that is not a byte stream gets its default reader.
 */
export function chunkReader(body: ReadableStream<Uint8Array>): ChunkReader {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    return body.getReader();
  }
  let buffer: ArrayBuffer | undefined = spareBuffers.pop() ?? new ArrayBuffer(FIRST_READ_BYTES);
  return {
    read: async () => {
      if (!buffer) return { done: true, value: undefined };
      const r = await byob.read(new Uint8Array(buffer));
      // The read takes the buffer over; what it returns is the same memory, for the next read.
      if (r.done) {
        const last = r.value?.buffer as ArrayBuffer | undefined;
        buffer = undefined;
        if (last?.byteLength === FIRST_READ_BYTES && spareBuffers.length < MAX_SPARE_BUFFERS) {
          spareBuffers.push(last);
        }
        return { done: true, value: undefined };
      }
      const filled = r.value.buffer as ArrayBuffer;
      buffer = r.value.byteLength === filled.byteLength && filled.byteLength < MAX_READ_BYTES
        ? new ArrayBuffer(Math.min(MAX_READ_BYTES, filled.byteLength * 2))
        : filled;
      return r;
    },
    cancel: (reason) => byob.cancel(reason),
  };
}

/**
 * The whole of `body`, at most `limit` bytes. Over the cap: `truncate` returns the first `limit`
 * bytes, else {@linkcode BackendBodyLimitError} is thrown. Either way the rest is not read.
 */
export async function readBody(
  body: ReadableStream<Uint8Array> | ChunkReader | null,
  limit: number,
  opts: FetchBackendOptions & { truncate?: boolean },
): Promise<Uint8Array<ArrayBuffer>> {
  if (!body) return new Uint8Array(0);
  const reader = body instanceof ReadableStream ? chunkReader(body) : body;
  const parts: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.length > limit) {
        if (!opts.truncate) throw new BackendBodyLimitError(opts.server, limit, opts.what);
        parts.push(value.slice(0, limit - size));
        size = limit;
        break;
      }
      parts.push(value.slice());
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return parts.length === 1 ? parts[0] : concatBytes(parts);
}

/** A `fetch` as the MCP SDK's client transport takes it. */
export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** The JSON-RPC request a POST body carries, if it is one. */
function rpcRequestOf(init?: RequestInit): { id: string | number; method: string } | undefined {
  if (typeof init?.body !== "string") return undefined;
  try {
    const m = JSON.parse(init.body);
    const ok = typeof m?.method === "string" && (typeof m.id === "string" || typeof m.id === "number");
    return ok ? { id: m.id, method: m.method } : undefined;
  } catch {
    return undefined;
  }
}

/** The longest part of a failed response's body the SDK client gets (it ends up in error messages). */
const ERROR_BODY_BYTES = 300;

/** Options of {@linkcode boundedFetch}. */
export interface BoundedFetchOptions {
  /** The server's name, for error messages. */
  server: string;
  /** Cap on a JSON body, one SSE line, one SSE event. */
  maxBytes: number;
  /** The fetch to wrap; the global one when omitted. */
  fetch?: FetchLike;
  /** Where a dropped response is reported (never with its contents). */
  log?: (level: "warn", msg: string) => void;
}

/** Whether `msg` may be relayed as part of the answer to request `id`: anything but another id's response. */
function belongs(msg: unknown, id: string | number): boolean {
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return false;
  const m = msg as { method?: unknown; id?: unknown };
  return typeof m.method === "string" || m.id === id;
}

/**
 * A `fetch` for the MCP SDK client that holds a backend's answers to what the pass-through holds
 * them to. The answer to a posted request carries responses to that request only: a response to
 * any other id is dropped (the SDK would settle whatever request of its own has that id). A JSON
 * body over `maxBytes`, or an SSE line or event over it, answers the posted request with a
 * JSON-RPC error naming the server and the cap (an SSE stream with no request of its own, the
 * standalone GET stream, fails instead). A failed response's body is cut to 300 bytes. Responses
 * with no body and redirects (the SDK decides on those) pass as they are.
 */
export function boundedFetch(opts: BoundedFetchOptions): FetchLike {
  const { server, maxBytes } = opts;
  const base = opts.fetch ?? fetch;
  return async (url, init) => {
    const res = await base(url, init);
    if (!res.body || (res.status >= 300 && res.status < 400)) return res;
    const request = rpcRequestOf(init);
    const what = request?.method ?? `${init?.method ?? "GET"} request`;
    const like = (body: BodyInit | null, headers: HeadersInit = res.headers) =>
      new Response(body, { status: res.status, statusText: res.statusText, headers });
    if (!res.ok) return like(await readBody(res.body, ERROR_BODY_BYTES, { server, what, truncate: true }));
    const type = (res.headers.get("content-type") ?? "").toLowerCase();
    const dropped = () =>
      opts.log?.(
        "warn",
        `Server ${server} sent a response to a request other than this ${what}; it was dropped.`,
      );
    if (type.includes("text/event-stream")) {
      return like(boundedSse(res.body, { server, what, maxBytes, id: request?.id, dropped }));
    }
    const json = (body: unknown) => like(JSON.stringify(body), { "content-type": "application/json" });
    const rpcError = (message: string) =>
      json({ jsonrpc: "2.0", id: request!.id, error: { code: -32603, message } });
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await readBody(res.body, maxBytes, { server, what });
    } catch (err) {
      if (!(err instanceof BackendBodyLimitError) || !request) throw err;
      return rpcError(err.message);
    }
    if (!request) return like(bytes);
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      // Not JSON: the SDK says so.
      return like(bytes);
    }
    const all = Array.isArray(body) ? body : [body];
    const kept = all.filter((m) => belongs(m, request.id));
    if (kept.length === all.length) return like(bytes);
    dropped();
    if (kept.length === 0) {
      return rpcError(`Server ${server} answered ${what} with a response to another request.`);
    }
    return json(kept);
  };
}

/** `body` read event by event within `maxBytes`, and written again without other ids' responses. */
function boundedSse(
  body: ReadableStream<Uint8Array>,
  opts: { server: string; what: string; maxBytes: number; id?: string | number; dropped: () => void },
): ReadableStream<Uint8Array> {
  const { server, what, id } = opts;
  const encoder = new TextEncoder();
  const sse = new SseReader({ maxLineBytes: opts.maxBytes, maxEventBytes: opts.maxBytes });
  const reader = chunkReader(body);
  let lastId = "";
  let warned = false;
  const relay = (ev: SseEvent): string => {
    if (id !== undefined && ev.type === "message") {
      let msg: unknown;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        msg = undefined;
      }
      // What is not JSON the SDK reports itself; a response to another id it must never see.
      if (msg !== undefined && !(Array.isArray(msg) ? msg : [msg]).every((m) => belongs(m, id))) {
        if (!warned) opts.dropped();
        warned = true;
        return "";
      }
    }
    const eventId = ev.lastEventId === lastId ? undefined : (lastId = ev.lastEventId);
    return formatSseEvent(ev.data, { type: ev.type, id: eventId });
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        let out = "";
        try {
          sse.push(value, (ev) => out += relay(ev));
        } catch (err) {
          reader.cancel().catch(() => {});
          if (!(err instanceof SseLimitError)) throw err;
          const message =
            `Server ${server} sent an SSE ${err.kind} over the ${err.limit}-byte limit during ${what}.`;
          if (id === undefined) throw new UpstreamError(server, message);
          const error = JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32603, message } });
          controller.enqueue(encoder.encode(out + formatSseEvent(error, { type: "message" })));
          return controller.close();
        }
        if (out) return controller.enqueue(encoder.encode(out));
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
