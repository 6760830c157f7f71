/**
 * URL elicitation of per-user tokens, as broker v0.9.0 and its router do it for registrations with
 * `tokenURLElicitation` when the extension sets `urlElicitation: Enabled`
 * (internal/routing/router_202511.go `resolveUpstreamToken`, internal/broker/elicitation_handler.go,
 * internal/session/cache.go, internal/elicitation):
 *
 * 1. a `tools/call` to such a server looks up the user's token for (client session, server);
 * 2. on a hit the token is the call's `Authorization` header (the registration's `credentialRef`
 *    only serves the gateway's own discovery and health checks);
 * 3. on a miss, a client that declared `capabilities.elicitation` at initialize gets `-32042`
 *    (URLElicitationRequiredError) with a URL to `/tokens?elicitation_id=<id>` (or the registration's
 *    external `url` with that query); an entry remembers session, server and the user's `sub` for two
 *    minutes and can be claimed once (`tokens_page.ts`). A client without the capability gets the
 *    router's `isError` tool result instead;
 * 4. the server's 401 to a call made with the user's token deletes the token, so the next call elicits
 *    again. A cached token that is a JWT past its `exp` is a miss, without asking the server.
 *
 * Tokens are held in this process only, never logged, and bounded in number and age.
 *
 * @module
 */
import type { ServerConfig } from "./config.ts";
import { base64UrlBytes } from "./base64.ts";

/** JSON-RPC error code of URLElicitationRequiredError (MCP 2025-11-25). */
export const URL_ELICITATION_REQUIRED = -32042;

/** How long an elicitation entry can be claimed (the broker's `defaultElicitationTTL`, 2 minutes). */
export const DEFAULT_ELICITATION_TTL_MS = 120_000;

/** Entries kept at most; the oldest go first past it. */
export const DEFAULT_MAX_ELICITATIONS = 10_000;

/** User tokens kept at most (one per session and server); the least recently stored go first past it. */
export const DEFAULT_MAX_USER_TOKENS = 10_000;

/** The message of the `-32042` error and of its one elicitation, as the broker writes them. */
export const ELICITATION_ERROR_MESSAGE = "URL elicitation required";
/** The message of the one elicitation in the `-32042` error's data. */
export const ELICITATION_MESSAGE = "Authorization is required to access this service.";
/** The router's tool-error text for a client that cannot be asked. */
export const ELICITATION_UNSUPPORTED =
  "upstream server requires a per-user token but client does not support elicitation";

/** One pending request for a user's token. */
export interface ElicitationEntry {
  /** The gateway session whose token it is. */
  sessionId: string;
  /** `ns/name` of the registration. */
  server: string;
  /** The user's `sub` when the call carried an identity; empty binds no one (no AuthPolicy). */
  sub: string;
}

/** Pending elicitations by random id: short-lived and single use. */
export class ElicitationEntries {
  #entries = new Map<string, { entry: ElicitationEntry; expires: number }>();
  #ttlMs: number;
  #max: number;

  /** Entries that live `ttlMs`, at most `max` of them. */
  constructor(opts: { ttlMs?: number; max?: number } = {}) {
    this.#ttlMs = opts.ttlMs ?? DEFAULT_ELICITATION_TTL_MS;
    this.#max = opts.max ?? DEFAULT_MAX_ELICITATIONS;
  }

  /** Entries held now (expired ones included until touched). */
  get size(): number {
    return this.#entries.size;
  }

  /** Stores `entry` under a new random id and returns the id. */
  store(entry: ElicitationEntry): string {
    this.#sweep();
    while (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    const id = crypto.randomUUID();
    this.#entries.set(id, { entry: { ...entry }, expires: Date.now() + this.#ttlMs });
    return id;
  }

  /** The entry `id` names, while it lives; it stays claimable. */
  lookup(id: string): ElicitationEntry | undefined {
    const e = this.#entries.get(id);
    if (!e) return undefined;
    if (Date.now() > e.expires) {
      this.#entries.delete(id);
      return undefined;
    }
    return { ...e.entry };
  }

  /** The entry `id` names, removed: a second claim of the same id finds nothing. */
  claim(id: string): ElicitationEntry | undefined {
    const e = this.#entries.get(id);
    if (!e) return undefined;
    this.#entries.delete(id);
    return Date.now() > e.expires ? undefined : e.entry;
  }

  /** Drops expired entries from the oldest on (they were stored in expiry order). */
  #sweep(): void {
    const now = Date.now();
    for (const [id, e] of this.#entries) {
      if (e.expires >= now) break;
      this.#entries.delete(id);
    }
  }
}

/**
 * The expiry of a JWT, read as the broker reads it (payload decoded, signature not checked):
 * true when `token` (with or without a `Bearer ` prefix) is a JWT whose `exp` has passed. Anything
 * that is not a JWT with a numeric `exp` never expires here.
 */
export function jwtExpired(token: string, now = Date.now()): boolean {
  const claims = decodeJwtPayload(token);
  const exp = claims?.exp;
  if (typeof exp !== "number" || !Number.isFinite(exp)) return false;
  // Go: time.Unix(int64(exp), 0).Before(now): whole seconds, truncated.
  return Math.trunc(exp) * 1000 < now;
}

/**
 * The payload of a 3-part JWT, decoded without verifying anything, as the broker's
 * `jwt.DecodePayload`; undefined when it is not one.
 */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  const bytes = parts.length === 3 ? base64UrlBytes(parts[1]) : undefined;
  if (!bytes) return undefined;
  try {
    const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The user's `sub` for an elicitation: the verified identity's `sub` when the policy put one on the
 * request; otherwise, as the router does (`ExtractSubClaim`, trusting that an AuthPolicy verified
 * the header), the `sub` of a `Bearer` JWT in `authorization`. Empty when neither says; an error
 * (the router's words) for a bearer JWT without a `sub`.
 */
export function userSub(
  identity: unknown,
  authorization: string | null,
): { sub: string } | { error: string } {
  if (typeof identity === "object" && identity !== null) {
    const sub = (identity as Record<string, unknown>).sub;
    if (typeof sub === "string" && sub !== "") return { sub };
  }
  if (!authorization?.startsWith("Bearer ")) return { sub: "" };
  const claims = decodeJwtPayload(authorization.slice("Bearer ".length));
  if (!claims) return { sub: "" };
  const sub = claims.sub;
  if (typeof sub !== "string" || sub === "") {
    return { error: "authorization token missing sub claim: JWT has no sub claim" };
  }
  return { sub };
}

/**
 * Users' tokens by gateway session and server, as the broker's session cache keys them. A token
 * lives until its session closes or `ttlMs` passes, whichever comes first.
 */
export class UserTokenCache {
  #tokens = new Map<string, { token: string; expires: number }>();
  #max: number;

  /** A cache of at most `max` tokens. */
  constructor(opts: { max?: number } = {}) {
    this.#max = opts.max ?? DEFAULT_MAX_USER_TOKENS;
  }

  /** Tokens held now. */
  get size(): number {
    return this.#tokens.size;
  }

  /** Stores `token` for `server` in `sessionId` for `ttlMs`. */
  set(sessionId: string, server: string, token: string, ttlMs: number): void {
    const key = cacheKey(sessionId, server);
    this.#tokens.delete(key);
    while (this.#tokens.size >= this.#max) this.#tokens.delete(this.#tokens.keys().next().value!);
    this.#tokens.set(key, { token, expires: Date.now() + ttlMs });
  }

  /**
   * The token for `server` in `sessionId`; undefined when there is none, its time is up, or it is a
   * JWT past its `exp` (then it is deleted, as the broker's `GetUserToken` does).
   */
  get(sessionId: string, server: string): string | undefined {
    const key = cacheKey(sessionId, server);
    const t = this.#tokens.get(key);
    if (!t) return undefined;
    if (Date.now() > t.expires || jwtExpired(t.token)) {
      this.#tokens.delete(key);
      return undefined;
    }
    return t.token;
  }

  /** Forgets the token for `server` in `sessionId` (the server refused it). */
  delete(sessionId: string, server: string): void {
    this.#tokens.delete(cacheKey(sessionId, server));
  }

  /** Forgets every token of a session that ended. */
  dropSession(sessionId: string): void {
    const prefix = cacheKey(sessionId, "");
    for (const key of this.#tokens.keys()) if (key.startsWith(prefix)) this.#tokens.delete(key);
  }
}

/** Session ids are signed JWTs (no NUL), so the pair cannot collide. */
const cacheKey = (sessionId: string, server: string) => `${sessionId}\0${server}`;

/** One event of the router's own answers: its `SseJSONRPC` framing, the session id echoed. */
function routerEvent(message: Record<string, unknown>, sessionId: string): Response {
  return new Response(`\nevent: message\ndata: ${JSON.stringify(message)}\n\n`, {
    headers: { "content-type": "text/event-stream", "mcp-session-id": sessionId },
  });
}

/**
 * The `-32042` answer (the broker's `ElicitationHandler`): one elicitation in `url` mode, with its id,
 * URL and message, as an event stream.
 */
export function urlElicitationRequired(
  id: unknown,
  elicitationId: string,
  url: string,
  sessionId: string,
): Response {
  return routerEvent({
    jsonrpc: "2.0",
    id,
    error: {
      code: URL_ELICITATION_REQUIRED,
      message: ELICITATION_ERROR_MESSAGE,
      data: { elicitations: [{ mode: "url", elicitationId, url, message: ELICITATION_MESSAGE }] },
    },
  }, sessionId);
}

/** The router's `isError` tool result (`BuildSSEToolError`) with `text`. */
export function routerToolError(id: unknown, text: string, sessionId: string): Response {
  return routerEvent({
    jsonrpc: "2.0",
    id,
    result: { content: [{ type: "text", text }], isError: true },
  }, sessionId);
}

/**
 * Where the user enters the token: the registration's external `url` with `?elicitation_id=`
 * appended (as the broker appends it, whatever the URL holds), else this gateway's `/tokens` page on
 * the origin the client reached it by (`X-Forwarded-Proto` decides the scheme, as the broker's).
 */
export function elicitationUrl(server: ServerConfig, elicitationId: string, request: Request): string {
  const id = encodeURIComponent(elicitationId);
  const external = server.tokenURLElicitation?.url;
  if (external) return `${external}?elicitation_id=${id}`;
  const url = new URL(request.url);
  const proto = request.headers.get("x-forwarded-proto");
  const scheme = proto === "http" || proto === "https" ? `${proto}:` : url.protocol;
  return `${scheme}//${url.host}/tokens?elicitation_id=${id}`;
}

/** One `tools/call` as the token resolution sees it. */
export interface ElicitationCall {
  /** The registration the call is routed to. */
  server: ServerConfig;
  /** The gateway session. */
  sessionId: string;
  /** The client's JSON-RPC id. */
  requestId: unknown;
  /** Whether the client declared `capabilities.elicitation` at initialize. */
  clientElicitation: boolean;
  /** The identity the policy verified (`attributes.granted.identity`), if any. */
  identity?: unknown;
  /** The HTTP request (its `Authorization` and the origin for the token page URL). */
  request: Request;
}

/** What a call to a `tokenURLElicitation` server goes out with, or the answer it gets instead. */
export type Resolution = { token: string } | { response: Response };

/** The gateway's URL elicitation state: pending entries and users' tokens. */
export class UrlElicitation {
  /** Pending elicitations. */
  readonly entries: ElicitationEntries;
  /** Users' tokens. */
  readonly tokens: UserTokenCache;
  #warn: (msg: string) => void;
  #unboundWarned = new Set<string>();

  /** State with the given bounds; `warn` hears about elicitations no identity protects. */
  constructor(opts: {
    entryTtlMs?: number;
    maxEntries?: number;
    maxTokens?: number;
    warn?: (msg: string) => void;
  } = {}) {
    this.entries = new ElicitationEntries({ ttlMs: opts.entryTtlMs, max: opts.maxEntries });
    this.tokens = new UserTokenCache({ max: opts.maxTokens });
    this.#warn = opts.warn ?? (() => {});
  }

  /** Whether calls to `server` ask for the user's token under `enabled` (the extension's flag). */
  static applies(server: ServerConfig | undefined, enabled: boolean | undefined): boolean {
    return !!enabled && server?.tokenURLElicitation !== undefined;
  }

  /**
   * The router's `resolveUpstreamToken`: the cached token, else the error the client gets (`-32042`
   * for a client that can be asked, the router's tool error otherwise).
   */
  resolve(call: ElicitationCall): Resolution {
    const { server, sessionId, requestId } = call;
    const token = this.tokens.get(sessionId, server.name);
    if (token !== undefined) return { token };
    const who = userSub(call.identity, call.request.headers.get("authorization"));
    if ("error" in who) return { response: routerToolError(requestId, who.error, sessionId) };
    if (!call.clientElicitation) {
      return { response: routerToolError(requestId, ELICITATION_UNSUPPORTED, sessionId) };
    }
    if (!who.sub && !this.#unboundWarned.has(server.name)) {
      this.#unboundWarned.add(server.name);
      this.#warn(
        `URL elicitation for ${server.name} carries no user identity (no policy verified a sub): whoever ` +
          "opens the elicitation URL can set the token for that session, as in a cluster without an AuthPolicy.",
      );
    }
    const id = this.entries.store({ sessionId, server: server.name, sub: who.sub });
    return {
      response: urlElicitationRequired(requestId, id, elicitationUrl(server, id, call.request), sessionId),
    };
  }
}
