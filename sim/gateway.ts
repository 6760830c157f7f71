/**
 * The simulator gateway: an MCP server on `/mcp` that federates upstream MCP servers the way the
 * Kuadrant broker does. This file puts the parts together and serves the HTTP paths; one `/mcp`
 * request goes parse -> attributes -> policy -> route -> upstream in `mcp_endpoint.ts`.
 *
 * The parts: `server_set.ts` (the registered servers and their catalog), `sessions.ts` (client
 * sessions and the store), `backends.ts` (each session's backend sessions), `handlers.ts` (what a
 * session's SDK server answers), `passthrough.ts` (the `tools/call` fast path), `status.ts`.
 *
 * @module
 */
import { BackendPool } from "./backends.ts";
import type { GatewayConfig } from "./config.ts";
import { ToolScopes } from "./discovery.ts";
import { UrlElicitation } from "./elicitation.ts";
import type { Catalog } from "./federation.ts";
import { installHandlers } from "./handlers.ts";
import { denied, McpEndpoint } from "./mcp_endpoint.ts";
import { Metrics } from "./metrics.ts";
import {
  DEFAULT_MAX_SESSIONS,
  DEFAULT_SESSION_IDLE_TIMEOUT_MS,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
  type GatewayOptions,
  type Logger,
} from "./options.ts";
import { PassthroughRouter } from "./passthrough.ts";
import { allowAll, chainPolicies, type RequestPolicy, setRequestSource } from "./policy.ts";
import { ServerSet } from "./server_set.ts";
import { SessionSigner } from "./session.ts";
import { SessionRegistry } from "./sessions.ts";
import { type GatewayStatus, gatewayStatus, statusResponse } from "./status.ts";
import { TokensPage } from "./tokens_page.ts";
import { MemorySessionStore, type RelayMessage, type SessionStore, SessionStoreError } from "./store.ts";
import { hostAllowed, RpcCode, rpcError } from "./transport.ts";
import { message } from "./upstream.ts";

export type { GatewayOptions, Logger } from "./options.ts";
export type { GatewayStatus, ServerStatus } from "./status.ts";

/** Paths that answer with the gateway's sessions or state: they check `Host` (DNS rebinding). */
const GUARDED_PATHS: ReadonlySet<string> = new Set(["/mcp", "/status", "/metrics", "/tokens"]);

/**
 * The path of an absolute request URL when it needs no normalising (letters, digits, `/`, `-`, `_`
 * and no dot segment), without a URL object per request; undefined leaves it to the URL parser.
 */
export function plainPath(url: string): string | undefined {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return undefined;
  let end = url.length;
  const query = url.indexOf("?", start);
  if (query >= 0) end = query;
  const hash = url.indexOf("#", start);
  if (hash >= 0 && hash < end) end = hash;
  const path = url.slice(start, end);
  return /^(?:\/[A-Za-z0-9_-]+)+$|^\/$/.test(path) ? path : undefined;
}

/** Where the broker serves its RFC 9728 protected-resource metadata (and every path below it). */
const PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource";

/** A running federation of upstream MCP servers behind one MCP endpoint. */
export class Gateway {
  #opts: GatewayOptions;
  #log: Logger;
  #store: SessionStore;
  #servers: ServerSet;
  #sessions: SessionRegistry;
  #endpoint: McpEndpoint;
  #policy: RequestPolicy;
  /** The `tools/call` fast path (undefined when `toolCallPassthrough` is false). */
  #passthrough?: PassthroughRouter;
  /** Ends this replica's subscription to the store's relay channel. */
  #unsubscribe?: () => Promise<void>;
  /** Each session's `select_tools` scope. */
  #scopes = new ToolScopes();
  /** The servers the last warning about URL elicitation without a policy named. */
  #unboundWarned = "";
  /** The `/tokens` page, served while the extension enables URL elicitation. */
  #tokens: TokensPage;
  /** Metrics served on `/metrics`. */
  readonly metrics: Metrics = new Metrics();

  /** A gateway for `config`; `start` connects to the servers. */
  constructor(config: GatewayConfig, opts: GatewayOptions = {}) {
    this.#opts = opts;
    const log = this.#log = opts.logger ?? (() => {});
    const metrics = this.metrics;
    const store = this.#store = opts.store ?? new MemorySessionStore();
    const timeoutMs = opts.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
    if (opts.toolCallPassthrough ?? true) this.#passthrough = new PassthroughRouter();
    const federateAll = opts.federateAll ?? false;
    const elicitation = new UrlElicitation({ warn: (msg) => log("warn", msg) });
    const servers: ServerSet = this.#servers = new ServerSet(config, {
      timeoutMs,
      federateAll,
      followBackends: opts.followBackends,
      toolsOnly: opts.toolsOnly,
      metrics,
      log,
      onListsChanged: (changed) => this.#sessions.notifyListsChanged(changed),
      onServerDropped: (name): Promise<void> => backends.dropServer(this.#sessions.values(), name),
    });
    const backends: BackendPool = new BackendPool({
      servers,
      store,
      timeoutMs: opts.upstreamTimeoutMs,
      log,
      userToken: (sessionId, server) =>
        UrlElicitation.applies(server, servers.config.extension.urlElicitation)
          ? elicitation.tokens.get(sessionId, server.name)
          : undefined,
      forgetUserToken: (sessionId, server) => elicitation.tokens.delete(sessionId, server),
    });
    const handlerContext = { servers, backends, scopes: this.#scopes, metrics, log, timeoutMs, federateAll };
    this.#sessions = new SessionRegistry({
      store,
      backends,
      metrics,
      log,
      maxSessions: opts.maxSessions ?? DEFAULT_MAX_SESSIONS,
      discoveryTools: () => servers.config.extension.discoveryTools,
      federateAll,
      setup: (session) => installHandlers(handlerContext, session),
      onClose: (id) => {
        this.#passthrough?.closeSession(id);
        this.#scopes.delete(id);
        elicitation.tokens.dropSession(id);
      },
    }, opts.signingKey);
    const auth = opts.policy ?? allowAll;
    if (opts.rateLimit) opts.rateLimit.onLimited = (by) => metrics.rateLimited(by.policy, by.limit);
    const policy = this.#policy = opts.rateLimit ? chainPolicies(auth, opts.rateLimit) : auth;
    this.#endpoint = new McpEndpoint({
      servers,
      sessions: this.#sessions,
      backends,
      policy,
      store,
      passthrough: this.#passthrough,
      metrics,
      log,
      timeoutMs,
      federateAll,
      elicitation,
      handlers: handlerContext,
    });
    const idleMs = opts.sessionIdleTimeoutMs ?? DEFAULT_SESSION_IDLE_TIMEOUT_MS;
    this.#tokens = new TokensPage({
      elicitation,
      policy,
      // A token lives as long as an idle session may (24 h unless told otherwise), and ends with it.
      sessionTtlMs: async (id) => (await store.get(id)) ? (idleMs || DEFAULT_SESSION_IDLE_TIMEOUT_MS) : 0,
      log,
    });
  }

  /** Sessions with a `select_tools` scope in this process (tests and diagnostics). */
  get scopedSessions(): number {
    return this.#scopes.size;
  }

  /** The pass-through router, when enabled (tests look at its maps). */
  get passthrough(): PassthroughRouter | undefined {
    return this.#passthrough;
  }

  /** The current config. */
  get config(): GatewayConfig {
    return this.#servers.config;
  }

  /** The current federated catalog. */
  get catalog(): Catalog {
    return this.#servers.catalog;
  }

  /** Connects to every enabled server (first attempt awaited) and builds the catalog. */
  async start(): Promise<void> {
    if (this.#opts.signingKey === undefined && this.#store.signingKey) {
      this.#sessions.useSigner(await SessionSigner.shared(this.#store));
    }
    if (this.#passthrough && this.#store.subscribe) {
      this.#unsubscribe = await this.#store.subscribe((m) => this.#relayed(m));
    }
    this.#sessions.startSweeper(this.#opts.sessionIdleTimeoutMs ?? DEFAULT_SESSION_IDLE_TIMEOUT_MS);
    await this.#servers.start();
    this.#warnUnboundElicitation(this.#servers.config);
  }

  /**
   * URL elicitation with no policy: as in a cluster without AuthPolicy, no identity binds the token
   * page, so whoever has an elicitation URL can set that session's token. Said loudly, not refused.
   */
  #warnUnboundElicitation(config: GatewayConfig): void {
    if (this.#opts.policy || !config.extension.urlElicitation) return;
    const servers = config.servers.filter((s) => s.enabled && s.tokenURLElicitation).map((s) => s.name);
    // Once per set of servers: a reload that changes nothing here says nothing again.
    if (!servers.length || servers.join() === this.#unboundWarned) return;
    this.#unboundWarned = servers.join();
    this.#log(
      "warn",
      `URL elicitation is enabled for ${servers.join(", ")} but no policy checks who submits a token on ` +
        "/tokens: anyone who has an elicitation URL can set another user's token, as in a cluster without " +
        "an AuthPolicy. Protect the gateway with an AuthPolicy.",
    );
  }

  /** A client's answer or cancel that reached another replica, for a call this one may hold. */
  #relayed(m: RelayMessage): void {
    const router = this.#passthrough;
    if (!router || m.from === router.replica) return;
    const handled = m.kind === "response"
      ? router.clientResponse(m.sessionId, m.message)
      : router.cancel(m.sessionId, m.message);
    if (!handled) return;
    this.metrics.relayed(m.kind);
    const what = m.kind === "response" ? "answer" : "cancel";
    this.#log("info", `Relayed the client's ${what} from replica ${m.from}.`, { session: m.sessionId });
    handled.catch((err) =>
      this.#log("warn", `Relayed ${m.kind} failed: ${message(err)}`, { session: m.sessionId })
    );
  }

  /**
   * Swaps the config: new servers appear, removed ones leave, changed ones reconnect; clients get
   * `list_changed` and their sessions survive.
   */
  async reload(config: GatewayConfig): Promise<void> {
    await this.#servers.reload(config);
    this.#warnUnboundElicitation(config);
  }

  /** The `/status` document. */
  async status(): Promise<GatewayStatus> {
    return gatewayStatus(this.#servers, {
      scopedSessions: this.#scopes.size,
      sessions: await this.#store.count(),
      federateAll: this.#opts.federateAll ?? false,
      ...(this.#opts.rateLimit ? { rateLimits: await this.#opts.rateLimit.status() } : {}),
    });
  }

  /**
   * Handles one HTTP request: `/mcp`, `/healthz`, `/readyz`, `/status` (and `/status/<ns>/<name>`),
   * `/metrics`, protected-resource metadata, `/tokens` (URL elicitation).
   */
  readonly handler = async (req: Request, info?: Deno.ServeHandlerInfo): Promise<Response> => {
    const pathname = plainPath(req.url) ?? new URL(req.url).pathname;
    const remote = info?.remoteAddr;
    if (remote?.transport === "tcp") setRequestSource(req, { address: remote.hostname, port: remote.port });
    try {
      if (GUARDED_PATHS.has(pathname) || pathname.startsWith("/status/")) {
        const host = req.headers.get("host");
        if (!hostAllowed(host, this.#publicHosts())) {
          if (pathname === "/mcp") this.metrics.request(req.method, 403);
          this.#log("warn", `Refused a request to ${pathname} for host ${JSON.stringify(host)}.`);
          return rpcError(403, RpcCode.ServerError, `Forbidden: host ${host} is not allowed.`);
        }
      }
      // `/status/<namespace>/<name>` is the status route too, as the broker's; so is every path under
      // the protected-resource metadata (the broker's mux serves the subtree, e.g. the `/mcp` suffix).
      switch (
        pathname.startsWith("/status/")
          ? "/status"
          : pathname.startsWith(`${PROTECTED_RESOURCE_PATH}/`)
          ? PROTECTED_RESOURCE_PATH
          : pathname
      ) {
        case "/mcp":
          return await this.#endpoint.handle(req);
        case "/healthz":
          return new Response("ok\n");
        case "/readyz": {
          const pending = this.#servers.pending();
          return pending.length
            ? new Response(`waiting for ${pending.join(", ")}\n`, { status: 503 })
            : new Response("ok\n");
        }
        case "/status": {
          // The broker route's `status` rule: a gateway policy guards it in the cluster too.
          const decision = await this.#policy.evaluateRequest?.({ request: req, rule: "status" });
          if (decision && !decision.allow) return denied(decision, null);
          return await statusResponse(req, () => this.status());
        }
        case "/metrics":
          this.metrics.sessions(this.#sessions.size);
          this.metrics.scopedSessions(this.#scopes.size);
          return new Response(this.metrics.render(), {
            headers: { "content-type": "text/plain; version=0.0.4" },
          });
        case "/tokens":
          // As the broker: the route exists only with --enable-url-elicitation.
          if (!this.#servers.config.extension.urlElicitation) {
            return new Response("Not Found\n", { status: 404 });
          }
          return await this.#tokens.handle(req);
        case PROTECTED_RESOURCE_PATH: {
          // The broker route's `well-known` rule: a gateway policy applies here too (hence the
          // guides' `when` excluding /.well-known).
          const decision = await this.#policy.evaluateRequest?.({ request: req, rule: "well-known" });
          if (decision && !decision.allow) return denied(decision, null);
          return this.#protectedResource(req, new URL(req.url));
        }
        default:
          return new Response("Not Found\n", { status: 404 });
      }
    } catch (err) {
      if (err instanceof SessionStoreError) {
        // Redis down: this request fails, naming the store; the gateway stays up and retries on the next.
        this.#log("warn", `Request to ${pathname} failed: ${err.message}`);
        if (pathname === "/mcp") this.metrics.request(req.method, 503);
        return rpcError(503, RpcCode.InternalError, err.message);
      }
      this.#log("error", `Request to ${pathname} failed: ${message(err)}`);
      return rpcError(500, RpcCode.InternalError, "Internal error.");
    }
  };

  /**
   * Hosts besides loopback names a request may name (DNS rebinding guard): `publicHosts`, the
   * extension's public host and the host of its protected resource.
   */
  #publicHosts(): string[] {
    const ext = this.#servers.config.extension;
    const hosts = [...(this.#opts.publicHosts ?? [])];
    if (ext.publicHost) hosts.push(ext.publicHost);
    if (ext.oauthProtectedResource?.resource) hosts.push(ext.oauthProtectedResource.resource);
    return hosts;
  }

  /**
   * The OAuth protected-resource metadata (RFC 9728) as the broker serves it (oauth_protected_resource_handler.go):
   * to any method, with its CORS headers (OPTIONS answered empty), its field order and defaults even
   * without `oauthProtectedResource` (resource `/mcp`, no authorization servers). The resource the
   * extension leaves unset is this gateway's own `/mcp` (the cluster's is `https://<publicHost>/mcp`),
   * which is where a client of the simulator connects and what its SDK checks it against.
   */
  #protectedResource(req: Request, url: URL): Response {
    const p = this.#servers.config.extension.oauthProtectedResource;
    const headers = {
      "access-control-allow-origin": "*",
      "access-control-allow-methods": "GET, POST, PUT, DELETE, OPTIONS, HEAD",
      "access-control-allow-headers": "Content-Type, Authorization, Accept, Origin, X-Requested-With",
      "access-control-max-age": "3600",
      "access-control-allow-credentials": "true",
    };
    if (req.method === "OPTIONS") return new Response(null, { status: 200, headers });
    const body = {
      resource_name: p?.resourceName || "MCP Server",
      resource: p ? p.resource || `${url.origin}/mcp` : "/mcp",
      authorization_servers: p?.authorizationServers ?? [],
      bearer_methods_supported: p?.bearerMethodsSupported?.length ? p.bearerMethodsSupported : ["header"],
      scopes_supported: p?.scopesSupported?.length ? p.scopesSupported : ["basic"],
    };
    // Go's json.Encoder ends the document with a newline.
    return new Response(`${JSON.stringify(body)}\n`, {
      headers: { ...headers, "content-type": "application/json" },
    });
  }

  /** Closes every session and upstream. */
  async close(): Promise<void> {
    await this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    // On a shared store the sessions outlive this process: other replicas, or its restart, serve them.
    await this.#sessions.closeAll();
    this.#passthrough?.close();
    await this.#servers.close();
  }
}

/** Options of `startGateway`. */
export interface StartOptions extends GatewayOptions {
  /** Port to listen on; 0 or omitted picks a free one. */
  port?: number;
  /** Interface to bind, default 127.0.0.1. */
  hostname?: string;
}

/** A gateway listening on HTTP. */
export interface RunningGateway {
  /** `http://host:port/mcp`. */
  url: string;
  port: number;
  /** The gateway itself (catalog, metrics, handler). */
  gateway: Gateway;
  /** Swaps the config at runtime. */
  reload(config: GatewayConfig): Promise<void>;
  /** The `/status` document. */
  status(): Promise<GatewayStatus>;
  /** Stops listening and closes every session and upstream. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a gateway on `Deno.serve` and waits for the first connection attempt to every server. */
export async function startGateway(config: GatewayConfig, opts: StartOptions = {}): Promise<RunningGateway> {
  const hostname = opts.hostname ?? "127.0.0.1";
  // Clients of a gateway bound to one address name that address; a wildcard bind has no such name.
  const bound = hostname === "0.0.0.0" || hostname === "::"
    ? []
    : [hostname.includes(":") ? `[${hostname}]` : hostname];
  const gateway = new Gateway(config, { ...opts, publicHosts: [...(opts.publicHosts ?? []), ...bound] });
  const ac = new AbortController();
  const httpServer = Deno.serve(
    { port: opts.port ?? 0, hostname, signal: ac.signal, onListen: () => {} },
    gateway.handler,
  );
  try {
    await gateway.start();
  } catch (err) {
    ac.abort();
    await httpServer.finished;
    throw err;
  }
  const port = httpServer.addr.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await gateway.close();
      await httpServer.shutdown();
    })();
  return {
    url: `http://${host}:${port}/mcp`,
    port,
    gateway,
    reload: (c) => gateway.reload(c),
    status: () => gateway.status(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A request handler for mounting the gateway elsewhere; call `start()` on the returned gateway first. */
export function createHandler(gateway: Gateway): (req: Request) => Promise<Response> {
  return gateway.handler;
}
