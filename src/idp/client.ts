/**
 * Getting a token from the dev identity provider of a running `kubectl mcp simulate --dev-idp`,
 * found through the gateway itself: its protected-resource metadata (RFC 9728) names the provider
 * as its authorization server, and the provider's discovery document names its dev token endpoint.
 * So a script needs only the gateway's URL, as an MCP client does.
 *
 * @module
 */

import { IdpError } from "./errors.ts";
import { DEV_TOKEN_ENDPOINT_FIELD } from "./endpoints.ts";
import type { UserClaims } from "./users.ts";

/** The gateway `kubectl mcp simulate` serves by default. */
export const DEFAULT_GATEWAY_URL = "http://127.0.0.1:8080/mcp";

/** Options of {@linkcode fetchDevToken}. */
export interface FetchDevTokenOptions {
  /** The gateway's MCP URL (default `http://127.0.0.1:8080/mcp`). */
  gateway?: string;
  /** A user of the dev identity provider. */
  user?: string;
  /** Claims of a what-if identity instead of a user (`sub` among them names its subject). */
  claims?: UserClaims;
  /** Lifetime in seconds (default the provider's). */
  ttl?: number;
  /** Aborts the requests. */
  signal?: AbortSignal;
  /** The `fetch` to use (default the global one). */
  fetch?: typeof fetch;
}

/** A token and where it is good. */
export interface DevToken {
  /** The access token (a JWT). Never print it unless asked. */
  token: string;
  /** The provider that issued it. */
  issuer: string;
  /** Its audience: the gateway's protected resource. */
  resource: string;
  /** Seconds it lives. */
  expiresIn: number;
}

/** Where the dev identity provider of a gateway is. */
export interface DevIdpLocation {
  /** The provider's issuer URL. */
  issuer: string;
  /** Its `POST /dev/token` endpoint. */
  devTokenEndpoint: string;
  /** The gateway's protected resource (tokens' `aud`). */
  resource: string;
}

const TIMEOUT_MS = 10_000;

function mcpUrl(gateway: string): URL {
  let url: URL;
  try {
    url = new URL(gateway);
  } catch {
    throw new IdpError(
      `invalid gateway URL ${JSON.stringify(gateway)}: expected e.g. ${DEFAULT_GATEWAY_URL}`,
    );
  }
  if (!/^https?:$/.test(url.protocol)) throw new IdpError(`the gateway URL ${url.origin} is not http(s)`);
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/mcp";
  url.search = "";
  url.hash = "";
  return url;
}

async function getJson(
  doFetch: typeof fetch,
  url: string,
  what: string,
  signal: AbortSignal,
): Promise<Record<string, unknown> | undefined> {
  let response: Response;
  try {
    response = await doFetch(url, { headers: { accept: "application/json" }, signal, redirect: "error" });
  } catch (error) {
    if ((error as Error)?.name === "AbortError" && signal.aborted) throw signal.reason ?? error;
    throw new IdpError(`cannot reach ${what} at ${url}: ${(error as Error)?.message ?? error}`, {
      cause: error,
      hint: "Is `kubectl mcp simulate --dev-idp` running there? Give its URL with --gateway.",
    });
  }
  if (response.status === 404) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new IdpError(`${what} at ${url} answered HTTP ${response.status}`);
  }
  try {
    const doc = await response.json();
    return typeof doc === "object" && doc !== null && !Array.isArray(doc) ? doc : undefined;
  } catch {
    throw new IdpError(`${what} at ${url} is not JSON`);
  }
}

/** Finds the dev identity provider of the gateway at `gateway` (its MCP URL). */
export async function locateDevIdp(
  gateway: string = DEFAULT_GATEWAY_URL,
  options: { signal?: AbortSignal; fetch?: typeof fetch } = {},
): Promise<DevIdpLocation> {
  const doFetch = options.fetch ?? fetch;
  const signal = options.signal
    ? AbortSignal.any([options.signal, AbortSignal.timeout(TIMEOUT_MS)])
    : AbortSignal.timeout(TIMEOUT_MS);
  const mcp = mcpUrl(gateway);
  // RFC 9728: the metadata of https://host/mcp is at /.well-known/oauth-protected-resource/mcp.
  const paths = [
    `/.well-known/oauth-protected-resource${mcp.pathname}`,
    "/.well-known/oauth-protected-resource",
  ];
  let metadata: Record<string, unknown> | undefined;
  for (const path of paths) {
    metadata = await getJson(
      doFetch,
      new URL(path, mcp).href,
      "the gateway's protected-resource metadata",
      signal,
    );
    if (metadata) break;
  }
  if (!metadata) {
    throw new IdpError(`the gateway at ${mcp.href} serves no protected-resource metadata`, {
      hint: "Is it `kubectl mcp simulate --dev-idp`? Give its URL with --gateway.",
    });
  }
  const servers = Array.isArray(metadata.authorization_servers)
    ? metadata.authorization_servers.filter((s): s is string => typeof s === "string")
    : [];
  for (const issuer of servers) {
    if (!URL.canParse(issuer)) continue;
    const discovery = await getJson(
      doFetch,
      `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`,
      "the authorization server's discovery document",
      signal,
    ).catch(() => undefined);
    const endpoint = discovery?.[DEV_TOKEN_ENDPOINT_FIELD];
    if (typeof endpoint === "string" && URL.canParse(endpoint)) {
      const resource = typeof metadata.resource === "string" && URL.canParse(metadata.resource)
        ? metadata.resource
        : mcp.href;
      return { issuer, devTokenEndpoint: endpoint, resource };
    }
  }
  throw new IdpError(
    `the gateway at ${mcp.href} has no dev identity provider: its authorization servers are ${
      servers.length ? servers.join(", ") : "none"
    }`,
    { hint: "Start it with `kubectl mcp simulate --dev-idp`, or get a token from those servers." },
  );
}

/**
 * A token from the dev identity provider of the running simulator at `options.gateway`, for
 * `options.user` (or `options.claims`), with the gateway's protected resource as its audience.
 */
export async function fetchDevToken(options: FetchDevTokenOptions): Promise<DevToken> {
  if ((options.user === undefined) === (options.claims === undefined)) {
    throw new IdpError("name either a user or claims to get a token for");
  }
  const doFetch = options.fetch ?? fetch;
  const where = await locateDevIdp(options.gateway, options);
  const signal = options.signal
    ? AbortSignal.any([options.signal, AbortSignal.timeout(TIMEOUT_MS)])
    : AbortSignal.timeout(TIMEOUT_MS);
  let response: Response;
  try {
    response = await doFetch(where.devTokenEndpoint, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({
        ...(options.user !== undefined ? { user: options.user } : { claims: options.claims }),
        resource: where.resource,
        ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
      }),
      signal,
    });
  } catch (error) {
    if (signal.aborted && options.signal?.aborted) throw options.signal.reason ?? error;
    throw new IdpError(
      `cannot reach the dev identity provider at ${where.issuer}: ${(error as Error)?.message}`,
      {
        cause: error,
      },
    );
  }
  let body: Record<string, unknown> = {};
  try {
    body = await response.json();
  } catch {
    // Reported below by status.
  }
  if (!response.ok || typeof body.access_token !== "string") {
    const why = typeof body.error_description === "string"
      ? body.error_description
      : `HTTP ${response.status}`;
    throw new IdpError(`the dev identity provider at ${where.issuer} refused: ${why}`);
  }
  return {
    token: body.access_token,
    issuer: where.issuer,
    resource: where.resource,
    expiresIn: typeof body.expires_in === "number" ? body.expires_in : 0,
  };
}
