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
  const url = new URL(req.request.url);
  // Envoy's header map: HTTP/1 `Host` becomes the `:authority` pseudo-header, and the pseudo-headers
  // are part of what the auth service sees.
  const method = req.request.method;
  const path = url.pathname + url.search;
  const scheme = url.protocol.replace(/:$/, "");
  const host = req.headers.get("host") ?? url.host;
  const headers: Record<string, string> = {
    ":authority": host,
    ":method": method,
    ":path": path,
    ":scheme": scheme,
  };
  // forEach, not the iterator: Deno's Headers iterator costs about ten times as much per request.
  req.headers.forEach((value, name) => {
    if (name !== "host") headers[name] = value;
  });
  if (!headers["x-request-id"]) headers["x-request-id"] = crypto.randomUUID();
  const now = options.now ?? new Date();
  const ms = now.getTime();
  const time = omitEmpty({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 });
  const query = url.search.replace(/^\?/, "");
  const protocol = options.protocol ?? "HTTP/1.1";
  const body = req.body ?? "";
  const size = headers["content-length"] !== undefined ? Number(headers["content-length"]) : utf8Length(body);
  const request = omitEmpty({
    id: headers["x-request-id"],
    time,
    protocol,
    scheme,
    host,
    method,
    path,
    url_path: url.pathname,
    query,
    headers,
    referer: headers["referer"] ?? "",
    user_agent: headers["user-agent"] ?? "",
    size: Number.isFinite(size) ? size : -1,
    body,
  });
  const http = omitEmpty({
    id: headers["x-request-id"],
    method,
    headers,
    path,
    host,
    scheme,
    query,
    size: Number.isFinite(size) ? size : -1,
    protocol,
    body,
  });
  return {
    request,
    source: omitEmpty({ address: req.source.address, port: req.source.port }),
    destination: omitEmpty({ address: req.destination.address, port: req.destination.port }),
    context: {
      request: { time, http },
      source: peer(req.source),
      destination: peer(req.destination),
    },
    auth: { metadata: {}, authorization: {} },
  };
}

// Envoy's `config.core.v3.Address` as Go's encoder writes the generated struct (oneofs by Go name).
function peer(p: { address: string; port: number }): Record<string, unknown> {
  return {
    address: {
      Address: {
        SocketAddress: omitEmpty({ address: p.address, PortSpecifier: p.port ? { PortValue: p.port } : "" }),
      },
    },
  };
}

// Go's `omitempty`: empty strings, zero numbers and empty maps are left out.
function omitEmpty(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null || v === "" || v === 0) continue;
    if (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out;
}

function utf8Length(s: string): number {
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(s) ? s.length : new TextEncoder().encode(s).length;
}
