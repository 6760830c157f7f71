/**
 * The `/mcp` endpoint, one HTTP request top to bottom: transport checks and parse (transport.ts) ->
 * session -> methods the gateway does not serve (handlers.ts) -> params check (params.ts) ->
 * attributes (routing.ts) -> policy (policy.ts) -> route: `tools/call` through the pass-through
 * (passthrough.ts), everything else through the session's SDK server (handlers.ts) to the upstream.
 *
 * Answers are the cluster's where it has one (broker v0.9.0 observed): a method the broker does not
 * serve gets its `-32601`, a `tools/call` of a tool no server has the router's tool result, and an
 * answer that is one JSON-RPC message comes as `application/json` (answers.ts).
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import { DEFAULT_NEGOTIATED_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { jsonRpcError, promptNotFound, singleAnswer, toolNotFound } from "./answers.ts";
import type { BackendPool } from "./backends.ts";
import type { ClientSession } from "./client_session.ts";
import { serverEndpoint } from "./config.ts";
import { META_TOOL_NAMES } from "./discovery.ts";
import { UpstreamError } from "./errors.ts";
import { type HandlerContext, toolsListResponse, unknownMetaTool, unservedMethod } from "./handlers.ts";
import type { Metrics } from "./metrics.ts";
import { UrlElicitation } from "./elicitation.ts";
import { type Logger, VIRTUAL_SERVER_HEADER } from "./options.ts";
import { checkParams } from "./params.ts";
import type { BackendTarget, PassthroughRouter } from "./passthrough.ts";
import type { PolicyAllow, PolicyDeny, RequestPolicy } from "./policy.ts";
import { computeAttributes, type RequestAttributes } from "./routing.ts";
import type { ServerSet } from "./server_set.ts";
import { SessionCapError, type SessionRegistry } from "./sessions.ts";
import { type SessionStore, SessionStoreError } from "./store.ts";
import { originAllowed, type PostedMessage, readPost, RpcCode, rpcError } from "./transport.ts";
import { message } from "./upstream.ts";

/** Methods upstream's router routes itself (to a server, or with its own answer) before the auth filter. */
const ROUTER_METHODS: ReadonlySet<string> = new Set(["tools/call", "prompts/get"]);

/** A posted `tools/call` request. */
type CallMessage = { jsonrpc: "2.0"; id: string | number; method: string; params?: Record<string, unknown> };

/** What the endpoint works with. */
export interface McpEndpointOptions {
  /** The configured servers and their catalog. */
  servers: ServerSet;
  /** The client sessions of this process. */
  sessions: SessionRegistry;
  /** Each session's backend sessions. */
  backends: BackendPool;
  /** Decides whether each request may proceed. */
  policy: RequestPolicy;
  /** Session state, and the relay channel between replicas when shared. */
  store: SessionStore;
  /** The `tools/call` fast path, when enabled. */
  passthrough?: PassthroughRouter;
  /** Requests by method and status. */
  metrics: Metrics;
  /** Diagnostics. */
  log: Logger;
  /** Timeout of one upstream call (reset by progress). */
  timeoutMs: number;
  /** Serve what the cluster's broker does not (see `GatewayOptions.federateAll`); false when unset. */
  federateAll?: boolean;
  /** Users' tokens for `tokenURLElicitation` servers and the elicitations asking for them. */
  elicitation?: UrlElicitation;
  /**
   * The context the sessions' handlers have: with it, `tools/list` is answered here, without the
   * session's SDK server (`toolsListResponse`).
   */
  handlers?: HandlerContext;
}

/** The answer to a request the policy denied: its body as written, else a JSON-RPC error. */
export function denied(decision: PolicyDeny, id: unknown): Response {
  if (decision.body !== undefined) {
    return new Response(decision.body, { status: decision.status, headers: decision.headers });
  }
  return rpcError(decision.status, RpcCode.ServerError, decision.message, { id, headers: decision.headers });
}

/** Records on `attributes` what an allowing policy added, for the router and the broker handlers. */
function grant(attributes: RequestAttributes, decision: PolicyAllow): void {
  if (decision.requestHeaders || decision.identity !== undefined) {
    attributes.granted = { requestHeaders: decision.requestHeaders, identity: decision.identity };
  }
}

/** Serves `/mcp`. */
export class McpEndpoint {
  #o: McpEndpointOptions;

  /** An endpoint over `opts`. */
  constructor(opts: McpEndpointOptions) {
    this.#o = opts;
  }

  /** Handles one request to `/mcp`, counting it by JSON-RPC method (or HTTP method) and status. */
  async handle(req: Request): Promise<Response> {
    let label: string = req.method;
    const res = await this.#handle(req, (l) => label = l);
    this.#o.metrics.request(label, res.status);
    return res;
  }

  async #handle(req: Request, labelAs: (label: string) => void): Promise<Response> {
    const { servers, sessions } = this.#o;
    const origin = req.headers.get("origin");
    if (!originAllowed(origin, servers.config.extension.allowedOrigins)) {
      return rpcError(403, RpcCode.ServerError, `Forbidden: origin ${origin} is not allowed.`);
    }
    if (req.method !== "POST" && req.method !== "GET" && req.method !== "DELETE") {
      return new Response(null, { status: 405, headers: { allow: "GET, POST, DELETE" } });
    }
    const vsName = req.headers.get(VIRTUAL_SERVER_HEADER) ?? undefined;
    if (vsName !== undefined && !servers.virtualServer(vsName)) {
      // As the broker: the lists go out unfiltered and only its log says why (broker v0.9.0
      // observed, section 3.9). A misspelt header exposes every tool, so say it each time.
      this.#o.log(
        "warn",
        `No virtual server ${vsName} (header ${VIRTUAL_SERVER_HEADER}); serving every tool and prompt unfiltered, as the cluster does.`,
        { virtualServer: vsName },
      );
    }
    if (req.method !== "POST") {
      // No body, so no x-mcp-* header: the gateway's policy on the broker route still applies.
      const decision = await this.#o.policy.evaluateRequest?.({ request: req, rule: "mcp" });
      if (decision && !decision.allow) return denied(decision, null);
      const found = await sessions.find(req);
      if (found instanceof Response) return found;
      const res = await found.handleRequest(req);
      return req.method === "GET" ? found.trackStream(res) : res;
    }

    // Parse.
    const read = await readPost(req, servers.config.extension.maxBodyBytes);
    if (!read.ok) return read.response;
    if (read.batch) {
      labelAs("batch");
      return await this.#batch(req, read.batch, vsName);
    }
    const msg = read.message;
    labelAs(msg.method ?? "response");
    if (msg.method === "initialize") return await this.#initialize(req, msg, vsName);
    if (msg.method !== undefined && ROUTER_METHODS.has(msg.method)) {
      return await this.#routed(req, msg, vsName);
    }

    // Everything else goes to the broker: its route's policy first, then the broker's own checks.
    const attributes = this.#attributes(msg, vsName);
    const deciding = this.#o.policy.evaluate({ attributes, request: req });
    const decision = deciding instanceof Promise ? await deciding : deciding;
    if (!decision.allow) return denied(decision, msg.id);
    grant(attributes, decision);

    // Session.
    const found = await sessions.find(req, msg.id);
    if (found instanceof Response) return found;
    if (msg.method === undefined) {
      const relayed = await this.#clientAnswer(found, msg);
      if (relayed) return relayed;
      return await found.handleRequest(req, { parsedBody: msg });
    }

    // The broker answers what it does not serve before looking at the params (http_compat.go).
    const unserved = msg.id !== undefined
      ? unservedMethod(msg.method, this.#o.federateAll ?? false)
      : undefined;
    if (unserved) return jsonRpcError(msg.id, RpcCode.MethodNotFound, unserved);

    const invalid = checkParams(msg);
    if (invalid) return rpcError(200, RpcCode.InvalidParams, invalid, { id: msg.id });

    // Route.
    const passthrough = this.#o.passthrough;
    if (passthrough && msg.method === "notifications/cancelled") {
      const cancelled = passthrough.cancel(found.id, msg as unknown as Record<string, unknown>);
      if (cancelled) return await cancelled;
      // Not a call of this replica: the one holding it (if any) cancels it; the SDK path below
      // still gets it for requests of its own.
      await this.#o.store.publish?.({
        kind: "cancel",
        sessionId: found.id,
        message: msg as unknown as Record<string, unknown>,
        from: passthrough.replica,
      });
    }
    if (msg.id === undefined) return await found.handleRequest(req, { parsedBody: msg });
    if (msg.method === "tools/list" && this.#o.handlers && found.initialized) {
      // Megabytes of known JSON for thousands of tools: no SDK server parsing, writing and reading it.
      const listed = await toolsListResponse(this.#o.handlers, found, msg.id, {
        virtualServer: vsName === undefined ? undefined : servers.virtualServer(vsName),
        granted: attributes.granted?.requestHeaders,
        clientHeaders: req.headers,
      });
      if (listed) return listed;
    }
    found.handOver(msg.id, attributes);
    return await singleAnswer(await found.handleRequest(req, { parsedBody: msg }), req.signal);
  }

  /**
   * A `tools/call` or `prompts/get`, which upstream's router handles before the auth filter: it
   * checks the session and answers an unknown tool or prompt itself, and only a call it routes meets
   * the policy (of the server's HTTPRoute, or of the broker's route for the broker's own tools).
   */
  async #routed(req: Request, msg: PostedMessage, vsName: string | undefined): Promise<Response> {
    const found = await this.#o.sessions.find(req, msg.id);
    if (found instanceof Response) return found;
    const invalid = checkParams(msg);
    if (invalid) return rpcError(200, RpcCode.InvalidParams, invalid, { id: msg.id });
    const attributes = this.#attributes(msg, vsName);
    if (msg.method === "tools/call" && msg.id !== undefined && !attributes.serverName) {
      const unknown = this.#unknownTool(found, msg, attributes);
      if (unknown) return unknown;
    }
    if (msg.method === "prompts/get" && msg.id !== undefined && !attributes.serverName) {
      return promptNotFound(msg.id, found.id);
    }
    // A policy that decides at once (allow-all when none is configured) costs no await.
    const deciding = this.#o.policy.evaluate({ attributes, request: req, sessionId: found.id });
    const decision = deciding instanceof Promise ? await deciding : deciding;
    if (!decision.allow) return denied(decision, msg.id);
    grant(attributes, decision);
    // The router resolves a per-user token before routing: the cached one, else -32042.
    let userToken: string | undefined;
    if (msg.method === "tools/call" && msg.id !== undefined && attributes.serverName) {
      const resolved = this.#userToken(req, found, msg, attributes);
      if (resolved instanceof Response) return resolved;
      userToken = resolved;
    }
    if (this.#o.passthrough && msg.method === "tools/call" && msg.id !== undefined) {
      const through = this.#toolCallThrough(found, msg as CallMessage, attributes, userToken);
      if (through) return await through;
    }
    if (msg.id === undefined) return await found.handleRequest(req, { parsedBody: msg });
    found.handOver(msg.id, attributes);
    return await singleAnswer(await found.handleRequest(req, { parsedBody: msg }), req.signal);
  }

  /**
   * The cluster's answer to a `tools/call` of a name no server owns, as its router gives it before
   * the broker sees the call; undefined for the meta-tools the gateway serves now. A meta-tool name
   * it does not serve goes to the broker in the cluster, which does not know it either.
   */
  #unknownTool(session: ClientSession, msg: PostedMessage, attrs: RequestAttributes): Response | undefined {
    const name = attrs.requestedName ?? "";
    if (this.#o.servers.metaNames.has(name)) return undefined;
    if (META_TOOL_NAMES.includes(name)) {
      return jsonRpcError(msg.id, RpcCode.InvalidParams, unknownMetaTool(name).message);
    }
    return toolNotFound(msg.id, session.id);
  }

  /**
   * The user's token for a call to a `tokenURLElicitation` server (URL elicitation enabled), or the
   * answer the call gets instead (`-32042`, or the router's tool error); undefined for other servers.
   */
  #userToken(
    req: Request,
    session: ClientSession,
    msg: PostedMessage,
    attrs: RequestAttributes,
  ): string | Response | undefined {
    const { elicitation, servers } = this.#o;
    const cfg = servers.upstream(attrs.serverName!)?.config;
    if (!elicitation || !cfg || !UrlElicitation.applies(cfg, servers.config.extension.urlElicitation)) {
      return undefined;
    }
    const resolved = elicitation.resolve({
      server: cfg,
      sessionId: session.id,
      requestId: msg.id,
      clientElicitation: session.capabilities.elicitation !== undefined,
      identity: attrs.granted?.identity,
      request: req,
    });
    return "token" in resolved ? resolved.token : resolved.response;
  }

  /**
   * The `x-mcp-*` attributes of one message, computed once and shared by policy and router. A
   * client's answer (no method) has only an empty method.
   */
  #attributes(msg: PostedMessage, vsName: string | undefined): RequestAttributes {
    const { catalog, serverByKey } = this.#o.servers;
    return computeAttributes(msg.method ?? "", msg.params, catalog, serverByKey, vsName);
  }

  /** An initialize: policy first, then a new session whose SDK server answers it. */
  async #initialize(req: Request, msg: PostedMessage, vsName: string | undefined): Promise<Response> {
    const { sessions, store, log } = this.#o;
    const decision = await this.#o.policy.evaluate({
      attributes: this.#attributes(msg, vsName),
      request: req,
    });
    if (!decision.allow) return denied(decision, msg.id);
    if (req.headers.get("mcp-session-id")) {
      return rpcError(
        400,
        RpcCode.InvalidRequest,
        "Invalid Request: initialize must not carry a session id.",
        { id: msg.id },
      );
    }
    // As the broker: an initialize naming no protocol version asks for 2025-03-26 (http_compat.go),
    // which the SDK would otherwise not take for an initialize at all.
    const requested = msg.params?.protocolVersion;
    if (typeof requested !== "string" || requested === "") {
      msg = { ...msg, params: { ...msg.params, protocolVersion: DEFAULT_NEGOTIATED_PROTOCOL_VERSION } };
    }
    const invalid = checkParams(msg);
    if (invalid) return rpcError(400, RpcCode.InvalidParams, invalid, { id: msg.id });
    let session: ClientSession;
    try {
      session = await sessions.create(msg.params);
    } catch (err) {
      if (!(err instanceof SessionCapError)) throw err;
      log("warn", err.message);
      return rpcError(503, RpcCode.ServerError, err.message, { id: msg.id, headers: { "retry-after": "1" } });
    }
    session.requestHeaders = req.headers;
    const res = await session.handleRequest(req, { parsedBody: msg });
    // The SDK refused the initialize: the record written for it would only wait for its TTL.
    if (!sessions.holds(session.id)) await store.delete(session.id).catch(() => {});
    return await singleAnswer(res, req.signal);
  }

  /**
   * The client's answer to a backend request relayed by a pass-through stream: forwarded to the
   * backend by this replica, or published for the replica holding the call; undefined when neither.
   */
  async #clientAnswer(session: ClientSession, msg: PostedMessage): Promise<Response | undefined> {
    const { passthrough, store } = this.#o;
    if (!passthrough) return undefined;
    const forwarded = passthrough.clientResponse(session.id, msg as unknown as Record<string, unknown>);
    if (forwarded) return await forwarded;
    if (!store.publish || !passthrough.isForeignRequestId(msg.id)) return undefined;
    // Another replica's call asked this: the replica holding its stream forwards the answer.
    await store.publish({
      kind: "response",
      sessionId: session.id,
      message: msg as unknown as Record<string, unknown>,
      from: passthrough.replica,
    });
    return new Response(null, { status: 202, headers: { "mcp-session-id": session.id } });
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
    const found = await this.#o.sessions.find(req);
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
      const invalid = checkParams(msg);
      if (invalid) return rpcError(400, RpcCode.InvalidParams, invalid, { id: msg.id });
      const attributes = this.#attributes(msg, vsName);
      const decision = await this.#o.policy.evaluate({ attributes, request: req, sessionId: found.id });
      if (!decision.allow) return denied(decision, msg.id);
      grant(attributes, decision);
      if (msg.method === "tools/call" && msg.id !== undefined && attributes.serverName) {
        // A batch has no room for one message's -32042: that call must come on its own.
        const resolved = this.#userToken(req, found, msg, attributes);
        if (resolved instanceof Response) {
          await resolved.body?.cancel();
          return rpcError(
            400,
            RpcCode.InvalidRequest,
            `Invalid Request: tools/call of ${attributes.requestedName} needs the user's own token for server ` +
              `${attributes.serverName} (URL elicitation), which a JSON-RPC batch cannot ask for; send it on its own.`,
            { id: msg.id },
          );
        }
      }
      if (msg.id !== undefined) found.handOver(msg.id, attributes);
    }
    return await found.handleRequest(req, { parsedBody: batch });
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
    userToken?: string,
  ): Promise<Response> | undefined {
    const { servers, backends, metrics, log } = this.#o;
    const server = attrs.serverName;
    if (!server || !attrs.toolName || !session.initialized) return undefined;
    const up = servers.upstream(server);
    if (!up) return undefined;
    const vs = attrs.virtualServer ? servers.virtualServer(attrs.virtualServer) : undefined;
    if (vs && servers.config.extension.enforceVirtualServers && !vs.tools.includes(attrs.requestedName!)) {
      return undefined;
    }
    const key = up.config.prefix ? servers.key(server) : undefined;
    return this.#o.passthrough!.call({
      sessionId: session.id,
      server,
      message: { ...msg, params: { ...msg.params, name: attrs.toolName } },
      timeoutMs: this.#o.timeoutMs,
      maxBytes: servers.config.extension.maxBodyBytes,
      ...(key ? { resourceKey: key } : {}),
    }, {
      backend: async (fresh): Promise<BackendTarget> => {
        if (fresh) await backends.forget(session, server);
        const conn = await backends.get(session, server);
        const current = servers.upstream(server) ?? up;
        return {
          endpoint: serverEndpoint(current.config),
          // The user's token (URL elicitation) replaces the registration's credential; a
          // userSpecificList server sees the client's own headers instead.
          ...(userToken !== undefined
            ? { credential: userToken }
            : current.config.userSpecificList
            ? { headers: session.userHeaders }
            : { credential: current.config.credential }),
          sessionId: conn.transport.sessionId,
          protocolVersion: conn.transport.protocolVersion ?? current.protocolVersion,
          ...(attrs.granted?.requestHeaders ? { policyHeaders: attrs.granted.requestHeaders } : {}),
        };
      },
      backendError: (err) => ({
        code: RpcCode.InternalError,
        message: err instanceof UpstreamError || err instanceof SessionStoreError
          ? err.message
          : `Server ${server} failed the tools/call request: ${message(err)}`,
      }),
      latency: (seconds) => metrics.upstreamLatency(server, "tools/call", seconds),
      listChanged: () => void servers.upstream(server)?.refresh(),
      // As the router: the server refused the user's token, so it is forgotten and the next call
      // elicits a new one; this call gets the server's 401.
      ...(userToken !== undefined
        ? {
          unauthorized: () => {
            this.#o.elicitation?.tokens.delete(session.id, server);
            log(
              "info",
              `Server ${server} refused the user's token (HTTP 401); the next call asks for a new one.`,
              {
                session: session.id,
                server,
              },
            );
            return true;
          },
        }
        : {}),
      log: (level, msg) => log(level, msg, { session: session.id, server }),
    });
  }
}
