/**
 * The simulator gateway: an MCP server on `/mcp` that federates upstream MCP servers the way the
 * Kuadrant broker does. Each request goes parse -> attributes -> policy -> route; session state lives
 * behind a `SessionStore`; the config can be swapped at runtime with `reload`.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/index"
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/shared/protocol"
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  CallToolRequestSchema,
  type CallToolResult,
  type ClientCapabilities,
  CompleteRequestSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  type Implementation,
  LATEST_PROTOCOL_VERSION,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListRootsRequestSchema,
  ListToolsRequestSchema,
  type LoggingLevel,
  McpError,
  ReadResourceRequestSchema,
  ResultSchema,
  RootsListChangedNotificationSchema,
  type ServerNotification,
  type ServerRequest,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
  type Tool,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { type GatewayConfig, type ServerConfig, serverEndpoint, type VirtualServerConfig } from "./config.ts";
import { UpstreamError } from "./errors.ts";
import {
  buildCatalog,
  type Catalog,
  encodeResourceUri,
  rewriteResultUris,
  serverKeys,
  type ServerListing,
  validateTool,
} from "./federation.ts";
import { Metrics } from "./metrics.ts";
import { type BackendTarget, PassthroughRouter } from "./passthrough.ts";
import {
  applyDiscovery,
  BROKER_SERVER,
  DISCOVER_TOOLS,
  discoverTools,
  DISCOVERY_INSTRUCTIONS,
  type DiscoveryView,
  FILTER_TOOLS_BY_TAGS,
  filterToolsByTags,
  LIST_TAGS,
  listTags,
  metaTools,
  selectTools,
  ToolScopes,
} from "./discovery.ts";
import { allowAll, type RequestPolicy } from "./policy.ts";
import { backendParams, computeAttributes, type RequestAttributes } from "./routing.ts";
import { SessionSigner } from "./session.ts";
import {
  MemorySessionStore,
  type RelayMessage,
  type SessionRecord,
  type SessionStore,
  SessionStoreError,
} from "./store.ts";
import { originAllowed, type PostedMessage, readPost, RpcCode, rpcError } from "./transport.ts";
import {
  connectUpstream,
  GATEWAY_INFO,
  httpStatus,
  listTools,
  message,
  Upstream,
  type UpstreamConnection,
  type UpstreamState,
} from "./upstream.ts";

/** Receives the gateway's diagnostics. */
export type Logger = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/** Options of a gateway. */
export interface GatewayOptions {
  /**
   * HMAC key for session ids; share it between replicas. When omitted: the store's shared key when
   * it has one (Redis), else random.
   */
  signingKey?: string | Uint8Array;
  /** Where diagnostics go; silent when omitted. */
  logger?: Logger;
  /** Decides whether each request may proceed; allow-all when omitted. */
  policy?: RequestPolicy;
  /** Session state; in-memory when omitted. */
  store?: SessionStore;
  /** Timeout of one upstream call (reset by progress), default 60000. */
  upstreamTimeoutMs?: number;
  /**
   * Route `tools/call` as a streaming pass-through to the backend (ids, tool name, session and
   * credential rewritten) instead of through the SDK server and client; default true.
   */
  toolCallPassthrough?: boolean;
  /**
   * A session with no request and no open stream for this long is closed (its backend sessions too,
   * unless the store is shared: then other replicas may still serve it and the store's TTL ends it);
   * default 86400000 (24 h, the Redis store's TTL), 0 never.
   */
  sessionIdleTimeoutMs?: number;
}

/** One server as `/status` reports it. */
export interface ServerStatus {
  name: string;
  prefix: string;
  url: string;
  enabled: boolean;
  state: UpstreamState | "rejected";
  protocolVersion?: string;
  toolCount: number;
  /** The federated (prefixed) names of the tools this server contributes. */
  tools: string[];
  promptCount: number;
  resourceCount: number;
  failedPings: number;
  lastError?: string;
  conflicts: Array<{ kind: "tool" | "prompt"; name: string; conflictsWith: string }>;
  invalidTools: Array<{ name: string; errors: string[] }>;
}

/** The `/status` document. */
export interface GatewayStatus {
  servers: ServerStatus[];
  totalServers: number;
  healthyServers: number;
  toolCount: number;
  promptCount: number;
  conflicts: Catalog["conflicts"];
  /** Tools the gateway serves itself (discovery and tags meta-tools), when any. */
  metaTools: string[];
  /** Progressive discovery settings: meta-tools on or off, and the tool count above which only they are listed (0: never). */
  discovery: { enabled: boolean; threshold: number };
  /** Sessions in this process with a `select_tools` scope (upstream's `scopedSessions`). */
  scopedSessions: number;
  sessions: number;
  timestamp: string;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** A posted `tools/call` request. */
type CallMessage = { jsonrpc: "2.0"; id: string | number; method: string; params?: Record<string, unknown> };

/** One client's session: its SDK server and transport, and its lazily opened backend sessions. */
class ClientSession {
  readonly server: Server;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly upstreams = new Map<string, Promise<UpstreamConnection>>();
  /** Calls in flight per server; a backend's own requests go to the newest one's stream. */
  readonly inflight = new Map<string, Extra[]>();
  logLevel?: LoggingLevel;
  closed = false;
  /** Protocol version negotiated at initialize (possibly by another replica). */
  protocolVersion?: string;
  /** When the client last sent a request or a stream of its ended (ms since the epoch). */
  lastUsed = Date.now();
  /** Its GET streams open now: a client listening for notifications is not idle. */
  openStreams = 0;
  /** Headers of its latest request; kept as they came, filtered only when a server needs them. */
  requestHeaders: Headers = new Headers();

  /** What `userSpecificList` servers get of the latest request (see `userHeaders`). */
  get userHeaders(): Record<string, string> {
    return userHeaders(this.requestHeaders);
  }

  constructor(readonly id: string, server: Server, transport: WebStandardStreamableHTTPServerTransport) {
    this.server = server;
    this.transport = transport;
  }

  get capabilities(): ClientCapabilities {
    return this.server.getClientCapabilities() ?? {};
  }
}

/** Set by the MCP transport (or HTTP itself) on every request: never taken from the client. */
const TRANSPORT_HEADERS = new Set([
  "accept",
  "content-type",
  "content-length",
  "mcp-protocol-version",
  "mcp-session-id",
  "mcp-method",
  "mcp-name",
  "host",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "origin",
  "last-event-id",
  // The gateway's own HTTP client negotiates compression; a forwarded value would leave bodies encoded.
  "accept-encoding",
]);

/**
 * The headers of a client's request a `userSpecificList` server gets, as upstream's broker forwards
 * them: the client's own Authorization (and other headers) stay, the transport's, the gateway's
 * `x-mcp-*` ones and gateway-scoped credentials (cookies, proxy authorization) go.
 */
export function userHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (TRANSPORT_HEADERS.has(name) || name.startsWith("x-mcp-")) continue;
    if (name === "cookie" || name === "proxy-authorization") continue;
    out[name] = value;
  }
  return out;
}

/** Counts a GET stream as open on its session until it ends or the client goes away. */
function trackStream(session: ClientSession, res: Response): Response {
  if (!res.body) return res;
  const reader = res.body.getReader();
  let open = true;
  session.openStreams++;
  const end = () => {
    if (!open) return;
    open = false;
    session.openStreams--;
    session.lastUsed = Date.now();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await reader.read();
        if (r.done) {
          end();
          controller.close();
        } else controller.enqueue(r.value);
      } catch (err) {
        end();
        controller.error(err);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

const VS_HEADER = "x-mcp-virtualserver";

/** Strips the SDK's `MCP error <code>: ` so a forwarded error does not carry it twice. */
function forwardError(err: unknown): never {
  if (err instanceof McpError) {
    const msg = err.message.replace(/^MCP error -?\d+: /, "");
    throw Object.assign(new Error(msg), {
      code: err.code,
      ...(err.data !== undefined ? { data: err.data } : {}),
    });
  }
  throw err;
}

/** A running federation of upstream MCP servers behind one MCP endpoint. */
export class Gateway {
  #config: GatewayConfig;
  #opts: GatewayOptions;
  #log: Logger;
  #policy: RequestPolicy;
  #store: SessionStore;
  #signer: SessionSigner;
  #upstreams = new Map<string, Upstream>();
  #sessions = new Map<string, ClientSession>();
  /** Sessions being brought back from the store, so concurrent requests for one id share one. */
  #resuming = new Map<string, Promise<ClientSession>>();
  /** Attributes computed by the HTTP layer, picked up by the SDK handler of the same request. */
  #attrs = new Map<string, RequestAttributes>();
  #catalog: Catalog;
  #keys = new Map<string, string>();
  #serverByKey = new Map<string, string>();
  #fingerprints = { tools: "", prompts: "", resources: "" };
  /** The `tools/call` fast path (undefined when `toolCallPassthrough` is false). */
  #passthrough?: PassthroughRouter;
  /** Ends this replica's subscription to the store's relay channel. */
  #unsubscribe?: () => Promise<void>;
  /** Closes idle sessions. */
  #sweeper?: ReturnType<typeof setInterval>;
  /** The meta-tools served now (discovery, tags), and their names. */
  #meta: Tool[] = [];
  #metaNames: ReadonlySet<string> = new Set();
  /** Each session's `select_tools` scope. */
  #scopes = new ToolScopes();
  /** Metrics served on `/metrics`. */
  readonly metrics: Metrics = new Metrics();

  constructor(config: GatewayConfig, opts: GatewayOptions = {}) {
    this.#config = config;
    this.#opts = opts;
    this.#log = opts.logger ?? (() => {});
    this.#policy = opts.policy ?? allowAll;
    this.#store = opts.store ?? new MemorySessionStore();
    this.#signer = new SessionSigner(opts.signingKey);
    this.#catalog = buildCatalog([], new Map(), config.extension.invalidToolPolicy);
    this.#setMeta(config);
    if (opts.toolCallPassthrough ?? true) this.#passthrough = new PassthroughRouter();
  }

  /** Recomputes the meta-tools for `config`; true when their names changed. */
  #setMeta(config: GatewayConfig): boolean {
    const before = [...this.#metaNames].join();
    this.#meta = metaTools(config.servers, config.extension.discoveryTools);
    this.#metaNames = new Set(this.#meta.map((t) => t.name));
    return [...this.#metaNames].join() !== before;
  }

  /** Sessions with a `select_tools` scope in this process (tests and diagnostics). */
  get scopedSessions(): number {
    return this.#scopes.size;
  }

  /** The pass-through router, when enabled (tests look at its maps). */
  get passthrough(): PassthroughRouter | undefined {
    return this.#passthrough;
  }

  /** Connects to every enabled server (first attempt awaited) and builds the catalog. */
  async start(): Promise<void> {
    if (this.#opts.signingKey === undefined && this.#store.signingKey) {
      this.#signer = await SessionSigner.shared(this.#store);
    }
    if (this.#passthrough && this.#store.subscribe) {
      this.#unsubscribe = await this.#store.subscribe((m) => this.#relayed(m));
    }
    const idleMs = this.#opts.sessionIdleTimeoutMs ?? 86_400_000;
    if (idleMs > 0) {
      this.#sweeper = setInterval(
        () => this.#closeIdleSessions(idleMs),
        Math.min(60_000, Math.max(50, idleMs / 4)),
      );
    }
    await this.#applyServers(this.#config.servers);
  }

  /** Closes sessions idle for longer than `idleMs` (no request, no open stream). */
  #closeIdleSessions(idleMs: number): void {
    const now = Date.now();
    for (const s of this.#sessions.values()) {
      if (s.closed || s.openStreams > 0 || now - s.lastUsed <= idleMs) continue;
      this.#log("info", `Session idle for ${Math.round((now - s.lastUsed) / 1000)} s; closed.`, {
        session: s.id,
      });
      void this.#closeSession(s.id);
    }
  }

  /** A client's answer or cancel that reached another replica, for a call this one may hold. */
  #relayed(m: RelayMessage): void {
    const router = this.#passthrough;
    if (!router || m.from === router.replica) return;
    const handled = m.kind === "response"
      ? router.clientResponse(m.sessionId, m.message)
      : router.cancel(m.sessionId, m.message);
    if (handled) {
      this.metrics.relayed(m.kind);
      this.#log(
        "info",
        `Relayed the client's ${m.kind === "response" ? "answer" : "cancel"} from replica ${m.from}.`,
        {
          session: m.sessionId,
        },
      );
      handled.catch((err) =>
        this.#log("warn", `Relayed ${m.kind} failed: ${message(err)}`, { session: m.sessionId })
      );
    }
  }

  /** The current config. */
  get config(): GatewayConfig {
    return this.#config;
  }

  /** The current federated catalog. */
  get catalog(): Catalog {
    return this.#catalog;
  }

  #pingIntervalMs(): number {
    const e = this.#config.extension;
    return e.backendPingIntervalMs ?? e.backendPingIntervalSeconds * 1000;
  }

  #newUpstream(s: ServerConfig): Upstream {
    const up = new Upstream(s, {
      pingIntervalMs: this.#pingIntervalMs(),
      timeoutMs: this.#opts.upstreamTimeoutMs ?? 60_000,
      onChange: () => {
        this.metrics.upstreamHealth(s.name, up.state === "ready");
        this.#rebuild();
      },
      onLatency: (method, seconds) => this.metrics.upstreamLatency(s.name, method, seconds),
      log: (level, msg) => this.#log(level, msg, { server: s.name }),
    });
    return up;
  }

  /** Starts, stops or restarts upstreams so they match `servers`. */
  async #applyServers(servers: ServerConfig[], restartAll = false): Promise<void> {
    const wanted = new Map(servers.map((s) => [s.name, s]));
    const stopping: Promise<void>[] = [];
    for (const [name, up] of this.#upstreams) {
      const next = wanted.get(name);
      if (!next || restartAll || JSON.stringify(next) !== JSON.stringify(up.config)) {
        this.#upstreams.delete(name);
        this.metrics.removeUpstream(name);
        stopping.push(up.close());
        stopping.push(this.#dropBackendSessions(name));
      }
    }
    await Promise.all(stopping);
    const starting: Promise<void>[] = [];
    // Keep config order in the map: conflicts are decided by registration order.
    const ordered = new Map<string, Upstream>();
    for (const s of servers) {
      let up = this.#upstreams.get(s.name);
      if (!up) {
        up = this.#newUpstream(s);
        this.metrics.upstreamHealth(s.name, false);
        starting.push(up.start());
      }
      ordered.set(s.name, up);
    }
    this.#upstreams = ordered;
    this.#keys = serverKeys(servers.map((s) => s.name));
    this.#serverByKey = new Map([...this.#keys].map(([n, k]) => [k, n]));
    this.#rebuild();
    await Promise.all(starting);
  }

  /** Closes every client's backend session on `server` (it left or changed). */
  async #dropBackendSessions(server: string): Promise<void> {
    await Promise.all([...this.#sessions.values()].map(async (s) => {
      const p = s.upstreams.get(server);
      s.upstreams.delete(server);
      await this.#store.deleteBackend(s.id, server);
      const conn = await p?.catch(() => undefined);
      if (conn) await this.#closeConnection(conn);
    }));
  }

  async #closeConnection(conn: UpstreamConnection): Promise<void> {
    await conn.transport.terminateSession().catch(() => {});
    await conn.client.close().catch(() => {});
  }

  /** Recomputes the catalog and tells every client what changed. */
  #rebuild(): void {
    const listings: ServerListing[] = [];
    for (const up of this.#upstreams.values()) {
      if (up.state === "ready" && up.listing) listings.push(up.listing);
    }
    this.#catalog = buildCatalog(
      listings,
      this.#keys,
      this.#config.extension.invalidToolPolicy,
      new Map([...this.#metaNames].map((name) => [name, BROKER_SERVER])),
    );
    // userSpecificList servers' tools are known per client only: their calls route by prefix.
    this.#catalog.prefixRoutes = this.#config.servers
      .filter((server) => server.enabled && server.userSpecificList && server.prefix)
      .map((server) => ({ prefix: server.prefix, server: server.name }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
    for (const c of this.#catalog.conflicts) {
      this.#log(
        "error",
        c.server === BROKER_SERVER
          ? `Tool ${c.name} of server ${c.conflictsWith} has the name of a gateway meta-tool; the tools of ${c.conflictsWith} are withheld.`
          : `${
            c.kind === "tool" ? "Tool" : "Prompt"
          } ${c.name} of server ${c.conflictsWith} conflicts with server ${c.server}; the tools of ${c.conflictsWith} are withheld.`,
        { ...c },
      );
    }
    const fp = {
      // Discovery settings too: a new threshold changes what unscoped sessions list.
      tools: JSON.stringify([
        [...this.#catalog.tools.values()].map((t) => t.tool),
        this.#meta,
        this.#config.extension.discoveryTools,
        this.#config.extension.discoveryToolThreshold,
      ]),
      prompts: JSON.stringify([...this.#catalog.prompts.values()].map((p) => p.prompt)),
      resources: JSON.stringify([this.#catalog.resources, this.#catalog.resourceTemplates]),
    };
    const changed = {
      tools: fp.tools !== this.#fingerprints.tools,
      prompts: fp.prompts !== this.#fingerprints.prompts,
      resources: fp.resources !== this.#fingerprints.resources,
    };
    this.#fingerprints = fp;
    for (const s of this.#sessions.values()) {
      if (s.closed) continue;
      if (changed.tools) s.server.sendToolListChanged().catch(() => {});
      if (changed.prompts) s.server.sendPromptListChanged().catch(() => {});
      if (changed.resources) s.server.sendResourceListChanged().catch(() => {});
    }
  }

  /**
   * Swaps the config: new servers appear, removed ones leave, changed ones reconnect; clients get
   * `list_changed` and their sessions survive.
   */
  async reload(config: GatewayConfig): Promise<void> {
    const intervalChanged =
      (config.extension.backendPingIntervalMs ?? config.extension.backendPingIntervalSeconds) !==
        (this.#config.extension.backendPingIntervalMs ?? this.#config.extension.backendPingIntervalSeconds);
    const policyChanged = config.extension.invalidToolPolicy !== this.#config.extension.invalidToolPolicy;
    this.#config = config;
    const metaChanged = this.#setMeta(config);
    await this.#applyServers(config.servers, intervalChanged);
    if (policyChanged || metaChanged) this.#rebuild();
  }

  /** The `/status` document. */
  async status(): Promise<GatewayStatus> {
    const cat = this.#catalog;
    const servers = this.#config.servers.map((s): ServerStatus => {
      const up = this.#upstreams.get(s.name);
      const rejected = cat.rejectedServers.includes(s.name);
      const tools = [...cat.tools.entries()].filter(([, t]) => t.server === s.name).map(([name]) => name);
      return {
        name: s.name,
        prefix: s.prefix,
        url: s.url,
        enabled: s.enabled,
        state: rejected ? "rejected" : up?.state ?? "disabled",
        ...(up?.protocolVersion ? { protocolVersion: up.protocolVersion } : {}),
        toolCount: tools.length,
        tools,
        promptCount: [...cat.prompts.values()].filter((p) => p.server === s.name).length,
        resourceCount: up?.state === "ready" ? up.listing?.resources.length ?? 0 : 0,
        failedPings: up?.failures ?? 0,
        ...(up?.lastError ? { lastError: up.lastError } : {}),
        conflicts: cat.conflicts.filter((c) => c.conflictsWith === s.name || c.server === s.name).map((
          c,
        ) => ({
          kind: c.kind,
          name: c.name,
          conflictsWith: c.conflictsWith === s.name ? c.server : c.conflictsWith,
        })),
        invalidTools: cat.invalidTools.filter((t) => t.server === s.name).map(({ name, errors }) => ({
          name,
          errors,
        })),
      };
    });
    return {
      servers,
      totalServers: servers.length,
      healthyServers: servers.filter((s) => s.state === "ready").length,
      toolCount: cat.tools.size,
      promptCount: cat.prompts.size,
      conflicts: cat.conflicts,
      metaTools: [...this.#metaNames],
      discovery: {
        enabled: this.#config.extension.discoveryTools,
        threshold: this.#config.extension.discoveryToolThreshold,
      },
      scopedSessions: this.#scopes.size,
      sessions: await this.#store.count(),
      timestamp: new Date().toISOString(),
    };
  }

  /** Handles one HTTP request: `/mcp`, `/healthz`, `/readyz`, `/status`, `/metrics`, protected-resource metadata. */
  readonly handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    try {
      switch (url.pathname) {
        case "/mcp":
          return await this.#mcp(req);
        case "/healthz":
          return new Response("ok\n");
        case "/readyz": {
          const pending = [...this.#upstreams.values()].filter((u) => u.config.enabled && u.rounds === 0).map(
            (u) => u.config.name,
          );
          return pending.length
            ? new Response(`waiting for ${pending.join(", ")}\n`, { status: 503 })
            : new Response("ok\n");
        }
        case "/status":
          return Response.json(await this.status());
        case "/metrics":
          this.metrics.sessions(this.#sessions.size);
          this.metrics.scopedSessions(this.#scopes.size);
          return new Response(this.metrics.render(), {
            headers: { "content-type": "text/plain; version=0.0.4" },
          });
        case "/.well-known/oauth-protected-resource":
        case "/.well-known/oauth-protected-resource/mcp": {
          const p = this.#config.extension.oauthProtectedResource;
          if (!p) return new Response("Not Found\n", { status: 404 });
          return Response.json({
            resource: p.resource ?? `${url.origin}/mcp`,
            authorization_servers: p.authorizationServers,
            resource_name: p.resourceName ?? "MCP Server",
            bearer_methods_supported: p.bearerMethodsSupported ?? ["header"],
            scopes_supported: p.scopesSupported ?? ["basic"],
          });
        }
        default:
          return new Response("Not Found\n", { status: 404 });
      }
    } catch (err) {
      if (err instanceof SessionStoreError) {
        // Redis down: this request fails, naming the store; the gateway stays up and retries on the next.
        this.#log("warn", `Request to ${url.pathname} failed: ${err.message}`);
        if (url.pathname === "/mcp") this.metrics.request(req.method, 503);
        return rpcError(503, RpcCode.InternalError, err.message);
      }
      this.#log("error", `Request to ${url.pathname} failed: ${message(err)}`);
      return rpcError(500, RpcCode.InternalError, "Internal error.");
    }
  };

  async #mcp(req: Request): Promise<Response> {
    let label: string = req.method;
    const done = (res: Response) => {
      this.metrics.request(label, res.status);
      return res;
    };
    if (!originAllowed(req.headers.get("origin"), this.#config.extension.allowedOrigins)) {
      return done(
        rpcError(403, RpcCode.ServerError, `Forbidden: origin ${req.headers.get("origin")} is not allowed.`),
      );
    }
    if (req.method !== "POST" && req.method !== "GET" && req.method !== "DELETE") {
      return done(new Response(null, { status: 405, headers: { allow: "GET, POST, DELETE" } }));
    }
    const vsName = req.headers.get(VS_HEADER) ?? undefined;
    if (vsName !== undefined && !this.#virtualServer(vsName)) {
      return done(rpcError(400, RpcCode.InvalidParams, `Virtual server ${vsName} does not exist.`));
    }
    if (req.method !== "POST") {
      const found = await this.#findSession(req);
      if (found instanceof Response) return done(found);
      const res = await found.transport.handleRequest(req);
      return done(req.method === "GET" ? trackStream(found, res) : res);
    }
    const read = await readPost(req, this.#config.extension.maxBodyBytes);
    if (!read.ok) return done(read.response);
    if (read.batch) {
      label = "batch";
      return done(await this.#batch(req, read.batch, vsName));
    }
    const msg = read.message;
    label = msg.method ?? "response";
    if (msg.method === "initialize") {
      const attributes = computeAttributes(msg.method, msg.params, this.#catalog, this.#serverByKey, vsName);
      const decision = await this.#policy.evaluate({ attributes, request: req });
      if (!decision.allow) {
        return done(
          rpcError(decision.status, RpcCode.ServerError, decision.message, {
            id: msg.id,
            headers: decision.headers,
          }),
        );
      }
      if (req.headers.get("mcp-session-id")) {
        return done(
          rpcError(400, RpcCode.InvalidRequest, "Invalid Request: initialize must not carry a session id."),
        );
      }
      const session = await this.#newSession(msg.params);
      session.requestHeaders = req.headers;
      const res = await session.transport.handleRequest(req, { parsedBody: msg });
      // The SDK refused the initialize: the record written for it would only wait for its TTL.
      if (!this.#sessions.has(session.id)) await this.#store.delete(session.id).catch(() => {});
      return done(res);
    }
    const found = await this.#findSession(req);
    if (found instanceof Response) return done(found);
    if (msg.method === undefined && this.#passthrough) {
      // The client's answer to a backend request relayed by a pass-through stream.
      const forwarded = this.#passthrough.clientResponse(found.id, msg as unknown as Record<string, unknown>);
      if (forwarded) return done(await forwarded);
      if (this.#store.publish && this.#passthrough.isForeignRequestId(msg.id)) {
        // Another replica's call asked this: the replica holding its stream forwards the answer.
        await this.#store.publish({
          kind: "response",
          sessionId: found.id,
          message: msg as unknown as Record<string, unknown>,
          from: this.#passthrough.replica,
        });
        return done(new Response(null, { status: 202, headers: { "mcp-session-id": found.id } }));
      }
    }
    if (msg.method !== undefined) {
      const attributes = computeAttributes(msg.method, msg.params, this.#catalog, this.#serverByKey, vsName);
      const decision = await this.#policy.evaluate({ attributes, request: req, sessionId: found.id });
      if (!decision.allow) {
        return done(
          rpcError(decision.status, RpcCode.ServerError, decision.message, {
            id: msg.id,
            headers: decision.headers,
          }),
        );
      }
      if (this.#passthrough) {
        if (msg.method === "tools/call" && msg.id !== undefined) {
          const through = this.#toolCallThrough(found, msg as CallMessage, attributes);
          if (through) return done(await through);
        } else if (msg.method === "notifications/cancelled") {
          const cancelled = this.#passthrough.cancel(found.id, msg as unknown as Record<string, unknown>);
          if (cancelled) return done(await cancelled);
          // Not a call of this replica: the one holding it (if any) cancels it; the SDK path below
          // still gets it for requests of its own.
          await this.#store.publish?.({
            kind: "cancel",
            sessionId: found.id,
            message: msg as unknown as Record<string, unknown>,
            from: this.#passthrough.replica,
          });
        }
      }
      if (msg.id !== undefined) {
        const k = `${found.id}\0${JSON.stringify(msg.id)}`;
        this.#attrs.set(k, attributes);
        // The SDK handler consumes it; this bounds the map if the request never reaches one.
        setTimeout(() => this.#attrs.delete(k), 0);
      }
    }
    return done(await found.transport.handleRequest(req, { parsedBody: msg }));
  }

  /**
   * A JSON-RPC batch, which only protocol 2025-03-26 had (2025-06-18 removed it): refused for
   * sessions on a later version, otherwise checked message by message like single requests and
   * handed to the session's SDK transport, which answers the batch as one.
   */
  async #batch(req: Request, batch: PostedMessage[], vsName: string | undefined): Promise<Response> {
    if (batch.some((m) => m.method === "initialize")) {
      return rpcError(
        400,
        RpcCode.InvalidRequest,
        "Invalid Request: initialize must not be part of a JSON-RPC batch.",
      );
    }
    const found = await this.#findSession(req);
    if (found instanceof Response) return found;
    const version = req.headers.get("mcp-protocol-version") ?? found.protocolVersion ?? "2025-03-26";
    if (version > "2025-03-26") {
      return rpcError(
        400,
        RpcCode.InvalidRequest,
        `Invalid Request: JSON-RPC batches were removed in protocol version 2025-06-18; this session uses ${version}.`,
      );
    }
    for (const msg of batch) {
      if (msg.method === undefined) continue;
      const attributes = computeAttributes(msg.method, msg.params, this.#catalog, this.#serverByKey, vsName);
      const decision = await this.#policy.evaluate({ attributes, request: req, sessionId: found.id });
      if (!decision.allow) {
        return rpcError(decision.status, RpcCode.ServerError, decision.message, {
          id: msg.id,
          headers: decision.headers,
        });
      }
      if (msg.id !== undefined) {
        const k = `${found.id}\0${JSON.stringify(msg.id)}`;
        this.#attrs.set(k, attributes);
        setTimeout(() => this.#attrs.delete(k), 0);
      }
    }
    return await found.transport.handleRequest(req, { parsedBody: batch });
  }

  /**
   * Forwards a `tools/call` through the pass-through when its tool maps to a configured server and
   * a virtual server does not forbid it; undefined leaves it to the SDK path (which answers unknown
   * and forbidden tools as before).
   */
  #toolCallThrough(
    session: ClientSession,
    msg: CallMessage,
    attrs: RequestAttributes,
  ): Promise<Response> | undefined {
    const server = attrs.serverName;
    if (!server || !attrs.toolName || !session.transport.sessionId) return undefined;
    const up = this.#upstreams.get(server);
    if (!up) return undefined;
    const vs = attrs.virtualServer ? this.#virtualServer(attrs.virtualServer) : undefined;
    if (vs && this.#config.extension.enforceVirtualServers && !vs.tools.includes(attrs.requestedName!)) {
      return undefined;
    }
    return this.#passthrough!.call({
      sessionId: session.id,
      server,
      message: { ...msg, params: { ...msg.params, name: attrs.toolName } },
      timeoutMs: this.#opts.upstreamTimeoutMs ?? 60_000,
      ...(up.config.prefix ? { resourceKey: this.#keys.get(server) } : {}),
    }, {
      backend: async (fresh): Promise<BackendTarget> => {
        if (fresh) await this.#forgetBackend(session, server);
        const conn = await this.#backend(session, server);
        const current = this.#upstreams.get(server) ?? up;
        return {
          endpoint: serverEndpoint(current.config),
          // A userSpecificList server sees the client's own headers instead of the registration's credential.
          ...(current.config.userSpecificList
            ? { headers: session.userHeaders }
            : { credential: current.config.credential }),
          sessionId: conn.transport.sessionId,
          protocolVersion: conn.transport.protocolVersion ?? current.protocolVersion,
        };
      },
      backendError: (err) => ({
        code: RpcCode.InternalError,
        message: err instanceof UpstreamError || err instanceof SessionStoreError
          ? err.message
          : `Server ${server} failed the tools/call request: ${message(err)}`,
      }),
      latency: (seconds) => this.metrics.upstreamLatency(server, "tools/call", seconds),
      listChanged: () => void this.#upstreams.get(server)?.refresh(),
      log: (level, msg) => this.#log(level, msg, { session: session.id, server }),
    });
  }

  #virtualServer(name: string): VirtualServerConfig | undefined {
    return this.#config.virtualServers.find((v) => v.name === name);
  }

  async #findSession(req: Request): Promise<ClientSession | Response> {
    const id = req.headers.get("mcp-session-id");
    if (!id) return rpcError(400, RpcCode.ServerError, "Bad Request: the Mcp-Session-Id header is required.");
    // Only ids this gateway issued become keys of #sessions, so finding one authenticates it: the HMAC
    // verify (about a sixth of the gateway's CPU per tools/call in `deno task bench`) is left to ids
    // this process does not hold.
    const s = this.#sessions.get(id);
    if (!s) {
      try {
        await this.#signer.verify(id);
      } catch {
        return rpcError(404, RpcCode.SessionNotFound, "Session not found.");
      }
    }
    // The store decides whether a session lives: another replica may have ended it (DELETE) or
    // created it, or this process restarted since the client initialised.
    const record = await this.#store.get(id);
    if (!record) {
      if (s) await this.#closeSession(id, false);
      return rpcError(404, RpcCode.SessionNotFound, "Session not found.");
    }
    if (s?.closed) return rpcError(404, RpcCode.SessionNotFound, "Session not found.");
    const session = s ?? await this.#resume(id, record);
    session.lastUsed = Date.now();
    session.requestHeaders = req.headers;
    return session;
  }

  /** Serves a session this process does not hold but the store knows, under the same id. */
  #resume(id: string, record: SessionRecord): Promise<ClientSession> {
    let resuming = this.#resuming.get(id);
    if (!resuming) {
      resuming = (async () => {
        const session = await this.#createSession(id, record);
        this.#sessions.set(id, session);
        this.metrics.sessions(this.#sessions.size);
        this.#log("info", "Session resumed from the session store.", { session: id });
        return session;
      })().finally(() => this.#resuming.delete(id));
      this.#resuming.set(id, resuming);
    }
    return resuming;
  }

  /** A new session for an initialize request: its record is stored before the client gets its id. */
  async #newSession(params: unknown): Promise<ClientSession> {
    const id = await this.#signer.issue();
    const p = (params ?? {}) as {
      protocolVersion?: unknown;
      clientInfo?: SessionRecord["clientInfo"];
      capabilities?: SessionRecord["clientCapabilities"];
    };
    const requested = typeof p.protocolVersion === "string" ? p.protocolVersion : undefined;
    // The SDK's own negotiation (Server#_oninitialize), so a replica resuming the session agrees.
    const protocolVersion = requested && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
      ? requested
      : LATEST_PROTOCOL_VERSION;
    const record: SessionRecord = {
      createdAt: Date.now(),
      protocolVersion,
      ...(p.clientInfo ? { clientInfo: p.clientInfo } : {}),
      ...(p.capabilities ? { clientCapabilities: p.capabilities } : {}),
    };
    await this.#store.create(id, record);
    const session = await this.#createSession(id);
    session.protocolVersion = protocolVersion;
    return session;
  }

  /**
   * An SDK server and transport for session `id`. With `restored`, the transport starts out
   * initialised with that id and the server with the client's capabilities and info, as the
   * replica that served the initialize had them.
   */
  async #createSession(id: string, restored?: SessionRecord): Promise<ClientSession> {
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      onsessioninitialized: (sid) => {
        this.#sessions.set(sid, session);
        this.metrics.sessions(this.#sessions.size);
      },
      onsessionclosed: (sid) => this.#closeSession(sid, true),
    });
    const server = new Server(GATEWAY_INFO, {
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { listChanged: true, subscribe: true },
        completions: {},
        logging: {},
      },
      instructions: this.#config.extension.discoveryTools
        ? DISCOVERY_INSTRUCTIONS
        : "Federated MCP gateway (kubectl-mcp simulator).",
    });
    const session = new ClientSession(id, server, transport);
    this.#installHandlers(session);
    server.onclose = () => void this.#closeSession(id);
    await server.connect(transport);
    if (restored) {
      // The SDK keeps these private and sets them only while handling initialize, which this
      // replica never saw (webStandardStreamableHttp.js: sessionId + _initialized; server/index.js:
      // _clientCapabilities + _clientVersion).
      transport.sessionId = id;
      (transport as unknown as { _initialized: boolean })._initialized = true;
      const internals = server as unknown as {
        _clientCapabilities?: ClientCapabilities;
        _clientVersion?: Implementation;
      };
      internals._clientCapabilities = (restored.clientCapabilities ?? {}) as ClientCapabilities;
      internals._clientVersion = restored.clientInfo as Implementation | undefined;
      session.protocolVersion = restored.protocolVersion;
    }
    return session;
  }

  /**
   * Closes this process's copy of a session. With `end` (the client's DELETE; or any close on a
   * store no one else reads) the session ends everywhere: its backend sessions are terminated, the
   * ones other replicas opened too, and the store forgets it. Without, only the local copy goes
   * (gateway shutdown on a shared store, or another replica ended it): the store keeps what other
   * replicas, or this one restarted, need.
   */
  async #closeSession(id: string, end = !this.#store.shared): Promise<void> {
    const s = this.#sessions.get(id);
    if (!s || s.closed) return;
    s.closed = true;
    this.#passthrough?.closeSession(id);
    this.#scopes.delete(id);
    this.#sessions.delete(id);
    this.metrics.sessions(this.#sessions.size);
    const conns = [...s.upstreams.entries()];
    s.upstreams.clear();
    const mapped = end && this.#store.shared
      ? await this.#store.listBackends(id).catch(() => ({} as Record<string, string>))
      : {};
    await Promise.all([
      ...conns.map(async ([, p]) => {
        const c = await p.catch(() => undefined);
        if (!c) return;
        if (end) await this.#closeConnection(c);
        else await c.client.close().catch(() => {});
      }),
      // Backend sessions another replica opened for this session and this one never resumed.
      ...Object.entries(mapped).filter(([server]) => !conns.some(([name]) => name === server)).map(
        ([server, backendId]) => this.#terminateBackend(server, backendId),
      ),
    ]);
    if (end) await this.#store.delete(id).catch((err) => this.#log("warn", message(err), { session: id }));
    await s.transport.close().catch(() => {});
  }

  /** Ends a backend session by id alone (HTTP DELETE), as its own client would. */
  async #terminateBackend(server: string, backendSessionId: string): Promise<void> {
    const cfg = this.#upstreams.get(server)?.config;
    if (!cfg) return;
    const headers: Record<string, string> = { "mcp-session-id": backendSessionId };
    if (cfg.credential) headers.authorization = cfg.credential;
    try {
      const res = await fetch(serverEndpoint(cfg), {
        method: "DELETE",
        headers,
        signal: AbortSignal.timeout(5000),
      });
      await res.body?.cancel();
    } catch {
      // The backend forgets idle sessions by itself.
    }
  }

  #attributesFor(session: ClientSession, method: string, params: unknown, extra: Extra): RequestAttributes {
    const k = `${session.id}\0${JSON.stringify(extra.requestId)}`;
    const a = this.#attrs.get(k);
    this.#attrs.delete(k);
    const vs = extra.requestInfo?.headers?.[VS_HEADER];
    return a ??
      computeAttributes(
        method,
        params,
        this.#catalog,
        this.#serverByKey,
        typeof vs === "string" ? vs : undefined,
      );
  }

  #selectedVirtualServer(extra: Extra): VirtualServerConfig | undefined {
    const vs = extra.requestInfo?.headers?.[VS_HEADER];
    return typeof vs === "string" ? this.#virtualServer(vs) : undefined;
  }

  #installHandlers(session: ClientSession): void {
    const server = session.server;
    server.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => {
      const vs = this.#selectedVirtualServer(extra);
      // As upstream's broker: this client's own tools of userSpecificList servers join the federated
      // ones, the virtual server filters them and the meta-tools alike, then the session's discovery
      // scope (or the threshold) applies.
      const tools = [...this.#catalog.tools.values()].map((t) => t.tool)
        .concat(await this.#userSpecificTools(session))
        .concat(this.#meta)
        .filter((t) => !vs || vs.tools.includes(t.name));
      const ext = this.#config.extension;
      if (!ext.discoveryTools) return { tools };
      return {
        tools: applyDiscovery(
          tools,
          this.#metaNames,
          this.#scopes.get(session.id),
          ext.discoveryToolThreshold,
        ),
      };
    });
    server.setRequestHandler(ListPromptsRequestSchema, (_req, extra) => {
      const vs = this.#selectedVirtualServer(extra);
      const prompts = [...this.#catalog.prompts.entries()]
        .filter(([name]) => !vs?.prompts || vs.prompts.includes(name))
        .map(([, p]) => p.prompt);
      return { prompts };
    });
    server.setRequestHandler(ListResourcesRequestSchema, () => ({ resources: this.#catalog.resources }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
      resourceTemplates: this.#catalog.resourceTemplates,
    }));
    const routed = (method: string) => (req: { params?: Record<string, unknown> }, extra: Extra) =>
      this.#route(session, method, req.params ?? {}, extra);
    const routedCall = routed("tools/call");
    server.setRequestHandler(
      CallToolRequestSchema,
      (req, extra) =>
        this.#metaNames.has(req.params.name)
          ? this.#callMeta(session, req.params, extra)
          : routedCall(req, extra),
    );
    server.setRequestHandler(GetPromptRequestSchema, routed("prompts/get"));
    server.setRequestHandler(ReadResourceRequestSchema, routed("resources/read"));
    server.setRequestHandler(SubscribeRequestSchema, routed("resources/subscribe"));
    server.setRequestHandler(UnsubscribeRequestSchema, routed("resources/unsubscribe"));
    server.setRequestHandler(CompleteRequestSchema, routed("completion/complete"));
    server.setRequestHandler(SetLevelRequestSchema, async (req) => {
      session.logLevel = req.params.level;
      await Promise.all([...session.upstreams.values()].map(async (p) => {
        const c = await p.catch(() => undefined);
        if (c?.client.getServerCapabilities()?.logging) {
          await c.client.setLoggingLevel(req.params.level).catch(() => {});
        }
      }));
      return {};
    });
    server.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
      for (const p of session.upstreams.values()) {
        const c = await p.catch(() => undefined);
        await c?.client.sendRootsListChanged().catch(() => {});
      }
    });
  }

  /** This client's tools of every ready userSpecificList server; a server that fails is left out. */
  async #userSpecificTools(session: ClientSession): Promise<Tool[]> {
    const servers = this.#config.servers.filter((s) =>
      s.enabled && s.userSpecificList && this.#upstreams.get(s.name)?.state === "ready"
    );
    if (!servers.length) return [];
    const lists = await Promise.all(servers.map(async (cfg) => {
      try {
        return await this.#listUserTools(session, cfg);
      } catch (err) {
        this.#log("warn", `Server ${cfg.name} could not list this client's tools: ${message(err)}`, {
          session: session.id,
          server: cfg.name,
        });
        return [];
      }
    }));
    return lists.flat();
  }

  /**
   * Lists a userSpecificList server's tools on the client's own backend session (reopened once if it
   * fails), with the invalid-tool policy applied and the prefix added.
   */
  async #listUserTools(session: ClientSession, cfg: ServerConfig): Promise<Tool[]> {
    const timeoutMs = this.#opts.upstreamTimeoutMs ?? 30_000;
    const list = async () => listTools((await this.#backend(session, cfg.name)).client, timeoutMs);
    let tools: Tool[];
    try {
      tools = await list();
    } catch {
      await this.#forgetBackend(session, cfg.name);
      tools = await list();
    }
    const valid = tools.filter((t) => validateTool(t).length === 0);
    const invalid = tools.length - valid.length;
    if (invalid && this.#config.extension.invalidToolPolicy === "RejectServer") {
      throw new UpstreamError(
        cfg.name,
        `Server ${cfg.name} listed ${invalid} tool(s) with an invalid schema for this client; rejected (RejectServer).`,
      );
    }
    return valid.map((t) => ({ ...t, name: cfg.prefix + t.name }));
  }

  /** Answers a call to one of the gateway's own meta-tools (discovery, tags). */
  async #callMeta(
    session: ClientSession,
    params: { name: string; arguments?: Record<string, unknown> },
    extra: Extra,
  ): Promise<CallToolResult> {
    const vs = this.#selectedVirtualServer(extra);
    if (vs && this.#config.extension.enforceVirtualServers && !vs.tools.includes(params.name)) {
      throw Object.assign(new Error(`Tool ${params.name} is not in virtual server ${vs.name}.`), {
        code: RpcCode.InvalidParams,
      });
    }
    const view: DiscoveryView = {
      servers: this.#config.servers,
      visible: new Map([...this.#catalog.tools].filter(([name]) => !vs || vs.tools.includes(name))),
    };
    const args = params.arguments ?? {};
    switch (params.name) {
      case DISCOVER_TOOLS:
        return discoverTools(args, view);
      case LIST_TAGS:
        return listTags(view);
      case FILTER_TOOLS_BY_TAGS:
        return filterToolsByTags(args, view);
      default: {
        const outcome = selectTools(args, view, this.#metaNames);
        if (outcome.scope) {
          this.#scopes.set(session.id, outcome.scope);
          // On the call's own stream, so the client hears of it even without a standalone GET stream.
          await extra.sendNotification({ method: "notifications/tools/list_changed" }).catch(() => {});
        }
        return outcome.result;
      }
    }
  }

  async #route(
    session: ClientSession,
    method: string,
    params: Record<string, unknown>,
    extra: Extra,
    // deno-lint-ignore no-explicit-any
  ): Promise<any> {
    const attrs = this.#attributesFor(session, method, params, extra);
    if (!attrs.serverName) {
      const what = method === "tools/call" ? "tool" : method === "prompts/get" ? "prompt" : "resource";
      const code = what === "resource" && method !== "completion/complete"
        ? RpcCode.ResourceNotFound
        : RpcCode.InvalidParams;
      const label = method === "completion/complete" ? "completion reference" : what;
      throw Object.assign(new Error(`Unknown ${label}: ${attrs.requestedName ?? "(none)"}`), { code });
    }
    const vs = attrs.virtualServer ? this.#virtualServer(attrs.virtualServer) : undefined;
    if (vs && this.#config.extension.enforceVirtualServers) {
      const outside = (method === "tools/call" && !vs.tools.includes(attrs.requestedName!)) ||
        (method === "prompts/get" && vs.prompts && !vs.prompts.includes(attrs.requestedName!));
      if (outside) {
        throw Object.assign(
          new Error(
            `${
              method === "tools/call" ? "Tool" : "Prompt"
            } ${attrs.requestedName} is not in virtual server ${vs.name}.`,
          ),
          { code: RpcCode.InvalidParams },
        );
      }
    }
    const server = attrs.serverName;
    const upParams = backendParams(attrs, params);
    const progressToken = (params._meta as Record<string, unknown> | undefined)?.progressToken as
      | string
      | number
      | undefined;
    const call = async () => {
      const conn = await this.#backend(session, server);
      const stack = session.inflight.get(server) ?? [];
      session.inflight.set(server, stack);
      stack.push(extra);
      const t0 = performance.now();
      try {
        return await conn.client.request({ method, params: upParams } as never, ResultSchema, {
          signal: extra.signal,
          timeout: this.#opts.upstreamTimeoutMs ?? 60_000,
          resetTimeoutOnProgress: true,
          onprogress: progressToken === undefined ? undefined : (p) => {
            extra.sendNotification({ method: "notifications/progress", params: { ...p, progressToken } })
              .catch(() => {});
          },
        });
      } finally {
        this.metrics.upstreamLatency(server, method, (performance.now() - t0) / 1000);
        stack.splice(stack.lastIndexOf(extra), 1);
      }
    };
    const key = method === "tools/call" && this.#upstreams.get(server)?.config.prefix
      ? this.#keys.get(server)
      : undefined;
    const rewritten = <T>(result: T): T => {
      if (key) rewriteResultUris(result, key);
      return result;
    };
    try {
      try {
        return rewritten(await call());
      } catch (err) {
        if (httpStatus(err) !== 404 || extra.signal.aborted) throw err;
        // The backend forgot our session: start a new one and retry once.
        this.#log("info", `Backend session on ${server} expired; re-initialising.`, { session: session.id });
        await this.#forgetBackend(session, server);
        return rewritten(await call());
      }
    } catch (err) {
      // Timeouts and closed connections are raised by our own client, not answered by the backend.
      if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) {
        throw Object.assign(new Error(`Server ${server} did not answer ${method} in time.`), {
          code: err.code,
        });
      }
      if (err instanceof McpError && err.code === ErrorCode.ConnectionClosed && !extra.signal.aborted) {
        throw Object.assign(new Error(`Server ${server} closed the connection during ${method}.`), {
          code: err.code,
        });
      }
      if (err instanceof McpError) forwardError(err);
      if (extra.signal.aborted) throw err;
      if (err instanceof SessionStoreError) {
        throw Object.assign(new Error(err.message), { code: RpcCode.InternalError });
      }
      if (err instanceof UpstreamError) {
        throw Object.assign(new Error(err.message), { code: RpcCode.InternalError });
      }
      throw Object.assign(new Error(`Server ${server} failed the ${method} request: ${message(err)}`), {
        code: RpcCode.InternalError,
      });
    }
  }

  async #forgetBackend(session: ClientSession, server: string): Promise<void> {
    const p = session.upstreams.get(server);
    session.upstreams.delete(server);
    await this.#store.deleteBackend(session.id, server);
    const c = await p?.catch(() => undefined);
    await c?.client.close().catch(() => {});
  }

  /** The session's backend session on `server`, opened on first use. */
  #backend(session: ClientSession, server: string): Promise<UpstreamConnection> {
    const existing = session.upstreams.get(server);
    if (existing) return existing;
    const cfg = this.#upstreams.get(server)?.config;
    if (!cfg) return Promise.reject(new UpstreamError(server, `Server ${server} is not configured.`));
    const p = this.#openBackend(session, cfg);
    session.upstreams.set(server, p);
    p.catch(() => {
      if (session.upstreams.get(server) === p) session.upstreams.delete(server);
    });
    return p;
  }

  async #openBackend(session: ClientSession, cfg: ServerConfig): Promise<UpstreamConnection> {
    const caps = session.capabilities;
    const capabilities: ClientCapabilities = {};
    if (caps.elicitation) capabilities.elicitation = caps.elicitation;
    if (caps.sampling) capabilities.sampling = caps.sampling;
    if (caps.roots) capabilities.roots = caps.roots;
    const resume = await this.#store.getBackend(session.id, cfg.name);
    // A userSpecificList server sees the client as the client is, on each request; others get the
    // registration's credential only.
    const headers = cfg.userSpecificList ? () => session.userHeaders : undefined;
    let conn: UpstreamConnection;
    try {
      conn = await connectUpstream(cfg, {
        capabilities,
        sessionId: resume,
        timeoutMs: this.#opts.upstreamTimeoutMs,
        headers,
      });
    } catch (err) {
      if (!resume) throw err;
      await this.#store.deleteBackend(session.id, cfg.name);
      conn = await connectUpstream(cfg, { capabilities, timeoutMs: this.#opts.upstreamTimeoutMs, headers });
    }
    const { client } = conn;
    const toClient = async (req: { method: string; params?: Record<string, unknown> }) => {
      const stack = session.inflight.get(cfg.name);
      const ctx = stack?.[stack.length - 1];
      // Send on the calling request's stream when one is open, so the client links it to its call.
      const r = ctx
        ? await ctx.sendRequest(req as ServerRequest, ResultSchema)
        : await session.server.request(req as ServerRequest, ResultSchema);
      // deno-lint-ignore no-explicit-any
      return r as any;
    };
    if (capabilities.elicitation) client.setRequestHandler(ElicitRequestSchema, toClient);
    if (capabilities.sampling) client.setRequestHandler(CreateMessageRequestSchema, toClient);
    if (capabilities.roots) client.setRequestHandler(ListRootsRequestSchema, toClient);
    client.fallbackNotificationHandler = async (n) => {
      if (n.method.endsWith("/list_changed")) {
        void this.#upstreams.get(cfg.name)?.refresh();
        return;
      }
      let out = n as ServerNotification;
      if (n.method === "notifications/resources/updated" && typeof n.params?.uri === "string" && cfg.prefix) {
        out = {
          ...n,
          params: { ...n.params, uri: encodeResourceUri(this.#keys.get(cfg.name)!, n.params.uri) },
        } as ServerNotification;
      }
      if (n.method !== "notifications/message" && n.method !== "notifications/resources/updated") return;
      const stack = session.inflight.get(cfg.name);
      const ctx = stack?.[stack.length - 1];
      await (ctx ? ctx.sendNotification(out) : session.server.notification(out)).catch(() => {});
    };
    if (session.logLevel && client.getServerCapabilities()?.logging) {
      await client.setLoggingLevel(session.logLevel).catch(() => {});
    }
    if (conn.transport.sessionId && conn.transport.sessionId !== resume) {
      try {
        await this.#store.setBackend(session.id, cfg.name, conn.transport.sessionId);
      } catch (err) {
        // Unrecorded, the backend session could never be resumed or ended by another replica.
        await this.#closeConnection(conn);
        throw err;
      }
    }
    if (session.closed) {
      await this.#closeConnection(conn);
      throw new UpstreamError(cfg.name, "The client session closed.");
    }
    return conn;
  }

  /** Closes every session and upstream. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    // On a shared store the sessions outlive this process: other replicas, or its restart, serve them.
    await Promise.all([...this.#sessions.keys()].map((id) => this.#closeSession(id)));
    await Promise.all([...this.#upstreams.values()].map((u) => u.close()));
    this.#upstreams.clear();
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
  const gateway = new Gateway(config, opts);
  const hostname = opts.hostname ?? "127.0.0.1";
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
