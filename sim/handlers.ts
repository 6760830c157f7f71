/**
 * The MCP methods a session's SDK server answers: lists come from the federated catalog (filtered by
 * the virtual server and the session's discovery scope), meta-tools are the gateway's own, and every
 * routed method goes to the owning server on the client's backend session.
 *
 * By default a session serves what the cluster's broker v0.9.0 serves: `ping`, `tools/*`,
 * `prompts/*` and `resources/list`; the methods the broker knows but does not serve are answered
 * with its `-32601 "<domain> not supported"`. With `federateAll` resource templates, reads,
 * subscriptions, completions and logging are served too.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  CallToolRequestSchema,
  type CallToolResult,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  ResultSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  type Tool,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { type WristbandFilter, wristbandFilter } from "./auth/trusted_headers.ts";
import type { BackendPool } from "./backends.ts";
import type { ClientSession, Extra } from "./client_session.ts";
import type { VirtualServerConfig } from "./config.ts";
import {
  applyDiscovery,
  DISCOVER_TOOLS,
  discoverTools,
  type DiscoveryView,
  FILTER_TOOLS_BY_TAGS,
  filterToolsByTags,
  LIST_TAGS,
  listTags,
  META_TOOL_NAMES,
  selectTools,
  type ToolScopes,
} from "./discovery.ts";
import { knownResultResponse, preserialized, TOOL_NOT_FOUND, writeKnownResults } from "./answers.ts";
import { UpstreamError } from "./errors.ts";
import { JsonListCache, rewriteResultUris } from "./federation.ts";
import { type ListAnswer, ListAnswerCache } from "./list_answers.ts";
import type { Metrics } from "./metrics.ts";
import { type Logger, VIRTUAL_SERVER_HEADER } from "./options.ts";
import { backendParams, computeAttributes, type RequestAttributes } from "./routing.ts";
import type { ServerSet } from "./server_set.ts";
import { SessionStoreError } from "./store.ts";
import { RpcCode } from "./transport.ts";
import { httpStatus, message, withPolicyHeaders } from "./upstream.ts";

/** What the handlers of every session share. */
export interface HandlerContext {
  /** The configured servers and their catalog. */
  servers: ServerSet;
  /** Each session's backend sessions. */
  backends: BackendPool;
  /** Each session's `select_tools` scope. */
  scopes: ToolScopes;
  /** Upstream latency. */
  metrics: Metrics;
  /** Diagnostics. */
  log: Logger;
  /** Timeout of one upstream call (reset by progress). */
  timeoutMs: number;
  /** Serve what the cluster's broker does not (see `GatewayOptions.federateAll`). */
  federateAll?: boolean;
}

/** Methods the cluster's broker v0.9.0 serves (http_compat.go `delegatedMethods`, and initialize). */
const BROKER_METHODS: ReadonlySet<string> = new Set([
  "initialize",
  "ping",
  "tools/list",
  "tools/call",
  "prompts/list",
  "prompts/get",
  "resources/list",
]);

/** Methods served beyond the broker with `federateAll`. */
const FEDERATE_ALL_METHODS: ReadonlySet<string> = new Set([
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "completion/complete",
  "logging/setLevel",
]);

/**
 * Methods the broker knows but does not serve, by the domain its error names (broker v0.9.0
 * observed, section 3.6 and 3.7: http_compat.go `unsupportedDomain`).
 */
const NOT_SUPPORTED: ReadonlyMap<string, string> = new Map([
  ["logging/setLevel", "logging"],
  ["resources/templates/list", "resources"],
  ["resources/read", "resources"],
  ["resources/subscribe", "resources"],
  ["resources/unsubscribe", "resources"],
  ["completion/complete", "completions"],
  ["tasks/get", "tasks"],
  ["tasks/list", "tasks"],
  ["tasks/result", "tasks"],
  ["tasks/cancel", "tasks"],
]);

/**
 * The message of the `-32601` error for a request to `method` when the gateway does not serve it
 * (`resources not supported`, ..., `Method foo/bar not found`, as the broker words them), else
 * undefined. Tasks are served in neither mode.
 */
export function unservedMethod(method: string, federateAll: boolean): string | undefined {
  if (BROKER_METHODS.has(method) || (federateAll && FEDERATE_ALL_METHODS.has(method))) return undefined;
  const domain = NOT_SUPPORTED.get(method);
  return domain ? `${domain} not supported` : `Method ${method} not found`;
}

/** A JSON-RPC error the SDK sends as it is (code, message, data). */
function rpcFailure(code: number, msg: string, data?: unknown): Error {
  return Object.assign(new Error(msg), { code, ...(data !== undefined ? { data } : {}) });
}

/** The virtual server a request selected with its header, when it exists. */
function selectedVirtualServer(ctx: HandlerContext, extra: Extra): VirtualServerConfig | undefined {
  const vs = extra.requestInfo?.headers?.[VIRTUAL_SERVER_HEADER];
  return typeof vs === "string" ? ctx.servers.virtualServer(vs) : undefined;
}

/** The broker's first list filter for this request: its `x-mcp-authorized` wristband (auth/trusted_headers.ts). */
function wristband(ctx: HandlerContext, session: ClientSession, extra: Extra): Promise<WristbandFilter> {
  return wristbandOf(ctx, {
    granted: session.takeAttributes(extra.requestId)?.granted?.requestHeaders,
    clientHeaders: extra.requestInfo?.headers,
  });
}

/** The wristband filter of a request whose policy granted `granted` and whose client sent `clientHeaders`. */
function wristbandOf(
  ctx: HandlerContext,
  request: Omit<ToolsListRequest, "virtualServer">,
): Promise<WristbandFilter> {
  const { servers, extension } = ctx.servers.config;
  return wristbandFilter({
    granted: request.granted,
    clientHeaders: request.clientHeaders,
    publicKeyPem: extension.trustedHeadersPublicKey,
    enforce: extension.enforceCapabilityFilter,
    servers,
  });
}

/** What a `tools/list` answer depends on of the request. */
export interface ToolsListRequest {
  /** The virtual server the request selected with its header, when it exists. */
  virtualServer?: VirtualServerConfig;
  /** The success headers of the policy that allowed the request. */
  granted?: Record<string, string>;
  /** The headers the client sent. */
  clientHeaders?: Headers | Record<string, string | string[] | undefined>;
}

/** The tools `session` lists for `request`, and their JSON text. */
async function toolsList(
  ctx: HandlerContext,
  session: ClientSession,
  request: ToolsListRequest,
): Promise<ListAnswer<Tool>> {
  const vs = request.virtualServer;
  const set = ctx.servers;
  const allowed = await wristbandOf(ctx, request);
  const catalog = set.catalog;
  const own = await ctx.backends.userSpecificTools(session);
  const meta = set.metaTools;
  const ext = set.config.extension;
  const scope = ext.discoveryTools ? ctx.scopes.get(session.id) : undefined;
  // As upstream's broker: this client's own tools of userSpecificList servers join the federated
  // ones, the wristband then the virtual server filter them and the meta-tools alike, then the
  // session's discovery scope (or the threshold) applies.
  const list = () => {
    const tools = allowed(
      [...catalog.tools.values()].map((t) => t.tool).concat(own).concat(meta),
      "tools",
    ).filter((t) => !vs || vs.tools.includes(t.name));
    return ext.discoveryTools
      ? applyDiscovery(tools, set.metaNames, scope, ext.discoveryToolThreshold)
      : tools;
  };
  // A wristband that keeps all or nothing and no tools of this client's own: the list is one every
  // session with this view gets, built once per catalog.
  const keeps = allowed.keeps("tools");
  if (!own.length && keeps !== "some") {
    return listAnswers(set).answer([catalog, set.config, meta], [vs, keeps, scope], list);
  }
  const items = list();
  return { items, json: listCache(set).json(items) };
}

/**
 * The answer to `tools/list` request `id` of `session`, written without the session's SDK server
 * (see `knownResultResponse`): the same bytes its handler's answer becomes. Undefined when the list
 * could need the client's own backend sessions (a `userSpecificList` server), which the SDK path
 * serves, or when making it failed (the SDK path answers with the error).
 */
export async function toolsListResponse(
  ctx: HandlerContext,
  session: ClientSession,
  id: string | number,
  request: ToolsListRequest,
): Promise<Response | undefined> {
  if (ctx.servers.config.servers.some((s) => s.enabled && s.userSpecificList)) return undefined;
  try {
    const answer = await toolsList(ctx, session, request);
    return knownResultResponse(id, "tools", answer.json, session.id);
  } catch {
    return undefined;
  }
}

/** The `tools/list` answers of each gateway's sessions, shared: one catalog, a few lists (virtual servers, scopes). */
const listCaches = new WeakMap<ServerSet, JsonListCache>();

function listCache(set: ServerSet): JsonListCache {
  let cache = listCaches.get(set);
  if (!cache) listCaches.set(set, cache = new JsonListCache());
  return cache;
}

/** The `tools/list` answers every session with the same view gets (see `ListAnswerCache`), per gateway. */
const answerCaches = new WeakMap<ServerSet, ListAnswerCache<Tool>>();

function listAnswers(set: ServerSet): ListAnswerCache<Tool> {
  let cache = answerCaches.get(set);
  if (!cache) answerCaches.set(set, cache = new ListAnswerCache());
  return cache;
}

/** Installs the gateway's MCP request handlers on `session`'s SDK server. */
export function installHandlers(ctx: HandlerContext, session: ClientSession): void {
  const server = session.server;
  writeKnownResults(session.transport);
  server.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => {
    const answer = await toolsList(ctx, session, {
      virtualServer: selectedVirtualServer(ctx, extra),
      granted: session.takeAttributes(extra.requestId)?.granted?.requestHeaders,
      clientHeaders: extra.requestInfo?.headers,
    });
    // Serialised once while the same tools come back (see `writeKnownResults`).
    return preserialized("tools", answer.items, answer.json);
  });
  server.setRequestHandler(ListPromptsRequestSchema, async (_req, extra) => {
    const vs = selectedVirtualServer(ctx, extra);
    const allowed = await wristband(ctx, session, extra);
    // As the broker: a virtual server that lists no prompts leaves them all (filtered_prompts_handler.go).
    const prompts = allowed([...ctx.servers.catalog.prompts.values()].map((p) => p.prompt), "prompts")
      .filter((p) => !vs?.prompts?.length || vs.prompts.includes(p.name));
    return { prompts };
  });
  server.setRequestHandler(ListResourcesRequestSchema, () => ctx.servers.resourcesList());
  // What the session does not serve (a batch's message, which the HTTP layer does not answer one by one).
  server.fallbackRequestHandler = (req) => {
    throw rpcFailure(
      RpcCode.MethodNotFound,
      unservedMethod(req.method, ctx.federateAll ?? false) ?? "Method not found",
    );
  };
  const routed = (method: string) => (req: { params?: Record<string, unknown> }, extra: Extra) =>
    route(ctx, session, method, req.params ?? {}, extra);
  const routedCall = routed("tools/call");
  server.setRequestHandler(
    CallToolRequestSchema,
    (req, extra) =>
      ctx.servers.metaNames.has(req.params.name)
        ? callMeta(ctx, session, req.params, extra)
        : routedCall(req, extra),
  );
  server.setRequestHandler(GetPromptRequestSchema, routed("prompts/get"));
  server.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
    for (const p of session.upstreams.values()) {
      const c = await p.catch(() => undefined);
      await c?.client.sendRootsListChanged().catch(() => {});
    }
  });
  if (!ctx.federateAll) return;
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: ctx.servers.catalog.resourceTemplates,
  }));
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
}

/** Answers a call to one of the gateway's own meta-tools (discovery, tags). */
async function callMeta(
  ctx: HandlerContext,
  session: ClientSession,
  params: { name: string; arguments?: Record<string, unknown> },
  extra: Extra,
): Promise<CallToolResult> {
  const set = ctx.servers;
  const vs = selectedVirtualServer(ctx, extra);
  if (vs && set.config.extension.enforceVirtualServers && !vs.tools.includes(params.name)) {
    throw rpcFailure(RpcCode.InvalidParams, `Tool ${params.name} is not in virtual server ${vs.name}.`);
  }
  // As the broker's getVisibleToolNames: the wristband, then the virtual server.
  const allowed = await wristband(ctx, session, extra);
  const permitted = new Set(
    allowed([...set.catalog.tools.values()].map((t) => t.tool), "tools").map((t) => t.name),
  );
  const view: DiscoveryView = {
    servers: set.config.servers,
    visible: new Map(
      [...set.catalog.tools].filter(([name]) => permitted.has(name) && (!vs || vs.tools.includes(name))),
    ),
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
      const outcome = selectTools(args, view, set.metaNames);
      if (outcome.scope) {
        ctx.scopes.set(session.id, outcome.scope);
        // As the broker: on the session's own GET stream, not in the call's answer; lost when the
        // session has none open (broker v0.9.0 observed, section 3.5).
        await session.server.sendToolListChanged().catch(() => {});
      }
      return outcome.result;
    }
  }
}

/** The attributes of a request: those the HTTP layer computed, else computed now. */
function attributesFor(
  ctx: HandlerContext,
  session: ClientSession,
  method: string,
  params: unknown,
  extra: Extra,
): RequestAttributes {
  const vs = extra.requestInfo?.headers?.[VIRTUAL_SERVER_HEADER];
  return session.takeAttributes(extra.requestId) ??
    computeAttributes(
      method,
      params,
      ctx.servers.catalog,
      ctx.servers.serverByKey,
      typeof vs === "string" ? vs : undefined,
    );
}

/**
 * The answer to a routed request whose name or URI no server owns. A `tools/call` gets the
 * cluster's answers: the router's tool result with `isError`, or for a meta-tool name the gateway
 * does not serve now the broker's `unknown tool` error (the router passes those names to the broker).
 */
function unknownTarget(method: string, attrs: RequestAttributes): Error | CallToolResult {
  if (method === "tools/call") {
    const name = attrs.requestedName ?? "";
    if (META_TOOL_NAMES.includes(name)) return unknownMetaTool(name);
    return { content: [{ type: "text", text: TOOL_NOT_FOUND }], isError: true };
  }
  const what = method === "tools/call" ? "tool" : method === "prompts/get" ? "prompt" : "resource";
  const code = what === "resource" && method !== "completion/complete"
    ? RpcCode.ResourceNotFound
    : RpcCode.InvalidParams;
  const label = method === "completion/complete" ? "completion reference" : what;
  return rpcFailure(code, attrs.unroutable ?? `Unknown ${label}: ${attrs.requestedName ?? "(none)"}`);
}

/**
 * The broker's error for a `tools/call` of a meta-tool it does not serve (discovery off, or no
 * server with tags): the SDK's own unknown-tool error (broker v0.9.0 observed, section 3.8).
 */
export function unknownMetaTool(name: string): Error {
  return rpcFailure(RpcCode.InvalidParams, `unknown tool ${JSON.stringify(name)}`);
}

/** Sends a routed method to the owning server on the client's backend session and returns its answer. */
async function route(
  ctx: HandlerContext,
  session: ClientSession,
  method: string,
  params: Record<string, unknown>,
  extra: Extra,
  // deno-lint-ignore no-explicit-any
): Promise<any> {
  const set = ctx.servers;
  const attrs = attributesFor(ctx, session, method, params, extra);
  if (!attrs.serverName) {
    const unknown = unknownTarget(method, attrs);
    if (unknown instanceof Error) throw unknown;
    return unknown;
  }
  const vs = attrs.virtualServer ? set.virtualServer(attrs.virtualServer) : undefined;
  if (vs && set.config.extension.enforceVirtualServers) {
    const outside = (method === "tools/call" && !vs.tools.includes(attrs.requestedName!)) ||
      (method === "prompts/get" && vs.prompts?.length && !vs.prompts.includes(attrs.requestedName!));
    if (outside) {
      const kind = method === "tools/call" ? "Tool" : "Prompt";
      throw rpcFailure(
        RpcCode.InvalidParams,
        `${kind} ${attrs.requestedName} is not in virtual server ${vs.name}.`,
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
    const conn = await ctx.backends.get(session, server);
    const stack = session.inflight.get(server) ?? [];
    session.inflight.set(server, stack);
    stack.push(extra);
    const t0 = performance.now();
    try {
      return await withPolicyHeaders(
        attrs.granted?.requestHeaders,
        () =>
          conn.client.request({ method, params: upParams } as never, ResultSchema, {
            signal: extra.signal,
            timeout: ctx.timeoutMs,
            resetTimeoutOnProgress: true,
            onprogress: progressToken === undefined ? undefined : (p) => {
              extra.sendNotification({ method: "notifications/progress", params: { ...p, progressToken } })
                .catch(() => {});
            },
          }),
      );
    } finally {
      ctx.metrics.upstreamLatency(server, method, (performance.now() - t0) / 1000);
      stack.splice(stack.lastIndexOf(extra), 1);
    }
  };
  const key = method === "tools/call" && set.upstream(server)?.config.prefix ? set.key(server) : undefined;
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
      ctx.log("info", `Backend session on ${server} expired; re-initialising.`, { session: session.id });
      await ctx.backends.forget(session, server);
      return rewritten(await call());
    }
  } catch (err) {
    if (httpStatus(err) === 401 && ctx.backends.userTokenRefused(session, server)) {
      ctx.log(
        "info",
        `Server ${server} refused the user's token (HTTP 401); the next call asks for a new one.`,
        {
          session: session.id,
          server,
        },
      );
    }
    throw upstreamFailure(err, server, method, extra.signal.aborted);
  }
}

/** The JSON-RPC error a client gets for a routed request that failed on its way to or from `server`. */
function upstreamFailure(err: unknown, server: string, method: string, aborted: boolean): unknown {
  // Timeouts and closed connections are raised by our own client, not answered by the backend.
  if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) {
    return rpcFailure(err.code, `Server ${server} did not answer ${method} in time.`);
  }
  if (err instanceof McpError && err.code === ErrorCode.ConnectionClosed && !aborted) {
    return rpcFailure(err.code, `Server ${server} closed the connection during ${method}.`);
  }
  // The backend's own JSON-RPC error, without the SDK's `MCP error <code>: ` so it is not there twice.
  if (err instanceof McpError) {
    return rpcFailure(err.code, err.message.replace(/^MCP error -?\d+: /, ""), err.data);
  }
  if (aborted) return err;
  if (err instanceof SessionStoreError || err instanceof UpstreamError) {
    return rpcFailure(RpcCode.InternalError, err.message);
  }
  return rpcFailure(RpcCode.InternalError, `Server ${server} failed the ${method} request: ${message(err)}`);
}
