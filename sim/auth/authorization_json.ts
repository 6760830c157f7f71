/**
 * The authorization JSON of one request, as Authorino builds it from Envoy's CheckRequest
 * (pkg/service/well_known_attributes.go): the well-known attributes `request`, `source`, `destination`
 * (Go `omitempty`: empty strings and zero ports are absent) and the legacy `context` tree
 * (`context.request.http.*`, `context.source.address.Address.SocketAddress.*`). `auth` starts empty; the
 * pipeline fills it as identity, metadata and authorization resolve.
 *
 * @module
 */

import type { AuthorizationJson, AuthRequest } from "./types.ts";

/** Options of {@linkcode buildAuthorizationJson}. */
export interface BuildAuthorizationJsonOptions {
  /** The request's arrival time (default: now); `request.time` is `{ seconds, nanos }`. */
  now?: Date;
  /** HTTP protocol as Envoy names it (default `HTTP/1.1`). */
  protocol?: string;
}

/**
 * Builds the authorization JSON of `req`. Header names are lower case; values are as the `Headers`
 * object holds them (fetch has already merged repeated headers, with `", "`). A request without
 * `x-request-id` gets one, as Envoy generates it before the auth filter runs. `Host` is `:authority`, as
 * in Envoy's header map, which also holds `:method`, `:path` and `:scheme`.
 */
export function buildAuthorizationJson(
  req: AuthRequest,
  options: BuildAuthorizationJsonOptions = {},
): AuthorizationJson {
  return assemble(req, req.headers.get("host"), (visit) => {
    // forEach, not the iterator: Deno's Headers iterator costs about ten times as much per request.
    req.headers.forEach((value, name) => visit(name, value));
  }, options);
}

/** Options of {@linkcode authorizationJsonFromRecord}. */
export interface AuthorizationJsonFromRecordOptions extends BuildAuthorizationJsonOptions {
  /**
   * Build Authorino's legacy `context` tree (default true). Kuadrant's wasm-shim, which evaluates
   * RateLimitPolicy CEL, has no such root: its callers leave it out (`context` is then empty).
   */
  context?: boolean;
  /** `req.request.url` already parsed by the caller, so it is not parsed again. */
  url?: URL;
}

/**
 * {@linkcode buildAuthorizationJson} from the request headers already as a record of lower-case names
 * (`host` among them), for callers that build that record themselves rather than a `Headers`.
 */
export function authorizationJsonFromRecord(
  req: Omit<AuthRequest, "headers">,
  record: Readonly<Record<string, string>>,
  options: AuthorizationJsonFromRecordOptions = {},
): AuthorizationJson {
  return assemble(req, record["host"], (visit) => {
    for (const name in record) visit(name, record[name]);
  }, options);
}

/** The authorization JSON of `req`, its headers visited by `eachHeader` (each once, `host` among them). */
function assemble(
  req: Omit<AuthRequest, "headers">,
  hostHeader: string | null | undefined,
  eachHeader: (visit: (name: string, value: string) => void) => void,
  options: AuthorizationJsonFromRecordOptions,
): AuthorizationJson {
  const url = options.url ?? new URL(req.request.url);
  // Envoy's header map: HTTP/1 `Host` becomes the `:authority` pseudo-header, and the pseudo-headers
  // are part of what the auth service sees.
  const method = req.request.method;
  const path = url.pathname + url.search;
  const scheme = url.protocol.replace(/:$/, "");
  const host = hostHeader ?? url.host;
  const headers: Record<string, string> = {
    ":authority": host,
    ":method": method,
    ":path": path,
    ":scheme": scheme,
  };
  eachHeader((name, value) => {
    if (name !== "host") headers[name] = value;
  });
  if (!headers["x-request-id"]) headers["x-request-id"] = crypto.randomUUID();
  const now = options.now ?? new Date();
  const ms = now.getTime();
  const time = {};
  add(time, "seconds", Math.floor(ms / 1000));
  add(time, "nanos", (ms % 1000) * 1_000_000);
  const query = url.search.replace(/^\?/, "");
  const protocol = options.protocol ?? "HTTP/1.1";
  const body = req.body ?? "";
  const length = headers["content-length"] !== undefined
    ? Number(headers["content-length"])
    : utf8Length(body);
  const size = Number.isFinite(length) ? length : -1;
  const id = headers["x-request-id"];
  // Each `add` leaves an empty value out, in the order Authorino's structs declare the fields.
  const request = {};
  add(request, "id", id);
  add(request, "time", time);
  add(request, "protocol", protocol);
  add(request, "scheme", scheme);
  add(request, "host", host);
  add(request, "method", method);
  add(request, "path", path);
  add(request, "url_path", url.pathname);
  add(request, "query", query);
  add(request, "headers", headers);
  add(request, "referer", headers["referer"] ?? "");
  add(request, "user_agent", headers["user-agent"] ?? "");
  add(request, "size", size);
  add(request, "body", body);
  const httpOf = () => {
    const http = {};
    add(http, "id", id);
    add(http, "method", method);
    add(http, "headers", headers);
    add(http, "path", path);
    add(http, "host", host);
    add(http, "scheme", scheme);
    add(http, "query", query);
    add(http, "size", size);
    add(http, "protocol", protocol);
    add(http, "body", body);
    return http;
  };
  const source = {};
  add(source, "address", req.source.address);
  add(source, "port", req.source.port);
  const destination = {};
  add(destination, "address", req.destination.address);
  add(destination, "port", req.destination.port);
  return {
    request,
    source,
    destination,
    context: options.context === false ? {} : {
      request: { time, http: httpOf() },
      source: peer(req.source),
      destination: peer(req.destination),
    },
    auth: { metadata: {}, authorization: {} },
  };
}

// Envoy's `config.core.v3.Address` as Go's encoder writes the generated struct (oneofs by Go name).
function peer(p: { address: string; port: number }): Record<string, unknown> {
  const socketAddress = {};
  add(socketAddress, "address", p.address);
  add(socketAddress, "PortSpecifier", p.port ? { PortValue: p.port } : "");
  return { address: { Address: { SocketAddress: socketAddress } } };
}

// Go's `omitempty`: empty strings, zero numbers and empty maps are left out. Field by field rather
// than over a whole object: this runs for every request, and building and scanning an object of
// entries cost a third of the authorization JSON.
function add(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined || value === null || value === "" || value === 0) return;
  if (typeof value === "object" && !Array.isArray(value) && isEmpty(value)) return;
  out[key] = value;
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

function utf8Length(s: string): number {
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.length : new TextEncoder().encode(s).length;
}
