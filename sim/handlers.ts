/**
 * The MCP methods a session's SDK server answers: lists come from the federated catalog (filtered by
 * the virtual server and the session's discovery scope), meta-tools are the gateway's own, and every
 * routed method goes to the owning server on the client's backend session.
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
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
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
  selectTools,
  type ToolScopes,
} from "./discovery.ts";
import { UpstreamError } from "./errors.ts";
import { rewriteResultUris } from "./federation.ts";
import type { Metrics } from "./metrics.ts";
import { type Logger, VIRTUAL_SERVER_HEADER } from "./options.ts";
import { backendParams, computeAttributes, type RequestAttributes } from "./routing.ts";
import type { ServerSet } from "./server_set.ts";
import { SessionStoreError } from "./store.ts";
import { RpcCode } from "./transport.ts";
import { httpStatus, message } from "./upstream.ts";

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

/** A JSON-RPC error the SDK sends as it is (code, message, data). */
function rpcFailure(code: number, msg: string, data?: unknown): Error {
  return Object.assign(new Error(msg), { code, ...(data !== undefined ? { data } : {}) });
}

/** The virtual server a request selected with its header, when it exists. */
function selectedVirtualServer(ctx: HandlerContext, extra: Extra): VirtualServerConfig | undefined {
  const vs = extra.requestInfo?.headers?.[VIRTUAL_SERVER_HEADER];
  return typeof vs === "string" ? ctx.servers.virtualServer(vs) : undefined;
}

/** Installs the gateway's MCP request handlers on `session`'s SDK server. */
export function installHandlers(ctx: HandlerContext, session: ClientSession): void {
  const server = session.server;
  server.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => {
    const vs = selectedVirtualServer(ctx, extra);
    const set = ctx.servers;
    // As upstream's broker: this client's own tools of userSpecificList servers join the federated
    // ones, the virtual server filters them and the meta-tools alike, then the session's discovery
    // scope (or the threshold) applies.
    const tools = [...set.catalog.tools.values()].map((t) => t.tool)
      .concat(await ctx.backends.userSpecificTools(session))
      .concat(set.metaTools)
      .filter((t) => !vs || vs.tools.includes(t.name));
    const ext = set.config.extension;
    if (!ext.discoveryTools) return { tools };
    return {
      tools: applyDiscovery(tools, set.metaNames, ctx.scopes.get(session.id), ext.discoveryToolThreshold),
    };
  });
  server.setRequestHandler(ListPromptsRequestSchema, (_req, extra) => {
    const vs = selectedVirtualServer(ctx, extra);
    const prompts = [...ctx.servers.catalog.prompts.entries()]
      .filter(([name]) => !vs?.prompts || vs.prompts.includes(name))
      .map(([, p]) => p.prompt);
    return { prompts };
  });
  server.setRequestHandler(ListResourcesRequestSchema, () => ctx.servers.resourcesList());
  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: ctx.servers.catalog.resourceTemplates,
  }));
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
  const view: DiscoveryView = {
    servers: set.config.servers,
    visible: new Map([...set.catalog.tools].filter(([name]) => !vs || vs.tools.includes(name))),
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
        // On the call's own stream, so the client hears of it even without a standalone GET stream.
        await extra.sendNotification({ method: "notifications/tools/list_changed" }).catch(() => {});
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

/** The error for a routed request whose name or URI no server owns. */
function unknownTarget(method: string, attrs: RequestAttributes): Error {
  const what = method === "tools/call" ? "tool" : method === "prompts/get" ? "prompt" : "resource";
  const code = what === "resource" && method !== "completion/complete"
    ? RpcCode.ResourceNotFound
    : RpcCode.InvalidParams;
  const label = method === "completion/complete" ? "completion reference" : what;
  return rpcFailure(code, attrs.unroutable ?? `Unknown ${label}: ${attrs.requestedName ?? "(none)"}`);
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
  if (!attrs.serverName) throw unknownTarget(method, attrs);
  const vs = attrs.virtualServer ? set.virtualServer(attrs.virtualServer) : undefined;
  if (vs && set.config.extension.enforceVirtualServers) {
    const outside = (method === "tools/call" && !vs.tools.includes(attrs.requestedName!)) ||
      (method === "prompts/get" && vs.prompts && !vs.prompts.includes(attrs.requestedName!));
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
      return await conn.client.request({ method, params: upParams } as never, ResultSchema, {
        signal: extra.signal,
        timeout: ctx.timeoutMs,
        resetTimeoutOnProgress: true,
        onprogress: progressToken === undefined ? undefined : (p) => {
          extra.sendNotification({ method: "notifications/progress", params: { ...p, progressToken } })
            .catch(() => {});
        },
      });
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
