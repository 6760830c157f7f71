/**
 * HTTP to backends the gateway does not trust: the headers of a POST to a backend session,
 * redirects followed only within the backend's origin (the cluster's Envoy follows none, and a
 * redirect elsewhere would carry the call, and on some runtimes the credential, to a host nobody
 * registered), and bodies read within a cap.
 *
 * The redirect rule is the MCP SDK client's own (`redirectPolicy: "same-origin"`), so the
 * pass-through and the SDK path answer a redirect alike: a 307 or 308 (or any redirect of a GET)
 * to the same scheme, host and port, or from http to https on the same host with default ports,
 * is followed, at most {@linkcode MAX_BACKEND_REDIRECTS} times; any other is an error.
 *
 * @module
 */
import { UpstreamError } from "./errors.ts";

/** Redirects followed within a backend's origin before the request fails. */
export const MAX_BACKEND_REDIRECTS = 5;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A backend answered with a redirect the gateway does not follow. */
export class BackendRedirectError extends UpstreamError {
  override readonly code: string = "ERR_UPSTREAM_REDIRECT";
}

/** A backend's response body was larger than the gateway accepts. */
export class BackendBodyLimitError extends UpstreamError {
  override readonly code: string = "ERR_UPSTREAM_BODY_LIMIT";
  /** The cap, in bytes. */
  readonly limit: number;

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
  /** The backend's `Mcp-Session-Id`, when it has sessions. */
  sessionId?: string;
  /** Protocol version negotiated with the backend. */
  protocolVersion?: string;
}

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
  return h;
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

/**
 * The whole of `body`, at most `limit` bytes. Over the cap: `truncate` returns the first `limit`
 * bytes, else {@linkcode BackendBodyLimitError} is thrown. Either way the rest is not read.
 */
export async function readBody(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  opts: FetchBackendOptions & { truncate?: boolean },
): Promise<Uint8Array<ArrayBuffer>> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (size + value.length > limit) {
        if (!opts.truncate) throw new BackendBodyLimitError(opts.server, limit, opts.what);
        parts.push(value.subarray(0, limit - size));
        size = limit;
        break;
      }
      parts.push(value);
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
