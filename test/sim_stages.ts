/**
 * The simulator gateway's stages, built one by one for the tests beside them (`sim/*_test.ts`): a
 * `ServerSet` that records what it reports, a bare `ClientSession`, and the whole request path
 * composed as `sim/gateway.ts` composes it (without the `tools/call` pass-through, so the SDK
 * handlers answer every method) but with every stage in reach.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/index"
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { BackendPool } from "../sim/backends.ts";
import { ClientSession } from "../sim/client_session.ts";
import { type GatewayConfig, type GatewayConfigInput, normalizeConfig } from "../sim/config.ts";
import { ToolScopes } from "../sim/discovery.ts";
import { installHandlers } from "../sim/handlers.ts";
import { McpEndpoint } from "../sim/mcp_endpoint.ts";
import { Metrics } from "../sim/metrics.ts";
import type { Logger } from "../sim/options.ts";
import { allowAll, type RequestPolicy } from "../sim/policy.ts";
import { type ListsChanged, ServerSet } from "../sim/server_set.ts";
import { SessionRegistry } from "../sim/sessions.ts";
import { MemorySessionStore, type SessionStore } from "../sim/store.ts";
import { GATEWAY_INFO } from "../sim/upstream.ts";
import { MCP_HEADERS } from "./sim_helpers.ts";

/** One diagnostic a stage logged. */
export interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

/** A `ServerSet` whose callbacks are recorded. */
export interface RecordedServerSet {
  set: ServerSet;
  metrics: Metrics;
  /** Every `onListsChanged` call, in order. */
  changes: ListsChanged[];
  /** Every `onServerDropped` name, in order. */
  dropped: string[];
  logs: LogLine[];
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A `ServerSet` for `config` (not started) that records its callbacks; `await using` closes it.
 * `federateAll` as `GatewayOptions.federateAll`.
 */
export function recordedServerSet(
  config: GatewayConfigInput,
  timeoutMs = 5000,
  { federateAll = false }: { federateAll?: boolean } = {},
): RecordedServerSet {
  const changes: ListsChanged[] = [];
  const dropped: string[] = [];
  const logs: LogLine[] = [];
  const metrics = new Metrics();
  const set = new ServerSet(normalizeConfig(config), {
    timeoutMs,
    federateAll,
    metrics,
    log: (level, msg, fields) => logs.push({ level, msg, fields }),
    onListsChanged: (changed) => changes.push(changed),
    onServerDropped: (name) => {
      dropped.push(name);
      return Promise.resolve();
    },
  });
  return { set, metrics, changes, dropped, logs, [Symbol.asyncDispose]: () => set.close() };
}

/**
 * A client session no registry holds: a real SDK server and transport, never connected, for the
 * stages that work on a session (`BackendPool`, `ClientSession` itself).
 */
export function bareSession(id: string = crypto.randomUUID()): ClientSession {
  return new ClientSession(id, {
    open: () => ({
      server: new Server(GATEWAY_INFO, { capabilities: {} }),
      transport: new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => id }),
    }),
  });
}

/** Options of `stages`. */
export interface StageOptions {
  /** Default allow-all. */
  policy?: RequestPolicy;
  /** Default 100. */
  maxSessions?: number;
  /** Timeout of one upstream call; default 5000. */
  timeoutMs?: number;
  /** Serve what the cluster's broker does not (see `GatewayOptions.federateAll`); default false. */
  federateAll?: boolean;
}

/** The request path's stages, composed as the gateway composes them. */
export interface Stages {
  config: GatewayConfig;
  servers: ServerSet;
  backends: BackendPool;
  sessions: SessionRegistry;
  endpoint: McpEndpoint;
  store: SessionStore;
  scopes: ToolScopes;
  metrics: Metrics;
  logs: LogLine[];
  /** Sessions `onClose` was called for, in order. */
  closed: string[];
  /** `http://127.0.0.1:PORT/mcp`, served by `endpoint.handle` (for `test/sim_helpers.ts` and SDK clients). */
  url: string;
  /** Sends one request to `endpoint.handle` directly. */
  handle(req: Request): Promise<Response>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Every stage of the request path for `config`, the servers started, `endpoint.handle` listening on
 * loopback. `await using` closes sessions, servers and the listener.
 */
export async function stages(config: GatewayConfigInput, opts: StageOptions = {}): Promise<Stages> {
  const logs: LogLine[] = [];
  const closed: string[] = [];
  const log: Logger = (level, msg, fields) => logs.push({ level, msg, fields });
  const metrics = new Metrics();
  const store = new MemorySessionStore();
  const timeoutMs = opts.timeoutMs ?? 5000;
  const federateAll = opts.federateAll ?? false;
  const scopes = new ToolScopes();
  const servers: ServerSet = new ServerSet(normalizeConfig(config), {
    timeoutMs,
    federateAll,
    metrics,
    log,
    onListsChanged: (changed) => sessions.notifyListsChanged(changed),
    onServerDropped: (name) => backends.dropServer(sessions.values(), name),
  });
  const backends: BackendPool = new BackendPool({ servers, store, timeoutMs, log });
  const handlerContext = { servers, backends, scopes, metrics, log, timeoutMs, federateAll };
  const sessions: SessionRegistry = new SessionRegistry({
    store,
    backends,
    metrics,
    log,
    maxSessions: opts.maxSessions ?? 100,
    discoveryTools: () => servers.config.extension.discoveryTools,
    federateAll,
    setup: (session) => installHandlers(handlerContext, session),
    onClose: (id) => {
      closed.push(id);
      scopes.delete(id);
    },
  });
  const endpoint = new McpEndpoint({
    servers,
    sessions,
    backends,
    policy: opts.policy ?? allowAll,
    store,
    metrics,
    log,
    timeoutMs,
    federateAll,
    handlers: handlerContext,
  });
  await servers.start();
  const handle = (req: Request) => endpoint.handle(req);
  const http = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, handle);
  return {
    config: servers.config,
    servers,
    backends,
    sessions,
    endpoint,
    store,
    scopes,
    metrics,
    logs,
    closed,
    handle,
    url: `http://127.0.0.1:${http.addr.port}/mcp`,
    [Symbol.asyncDispose]: async () => {
      await sessions.closeAll();
      await servers.close();
      await http.shutdown();
    },
  };
}

/** An MCP URL on loopback where nothing listens (a port just freed): connecting fails at once. */
export function unreachableUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${listener.addr.port}/mcp`;
  listener.close();
  return url;
}

/** A well-formed MCP POST of `body` for `handle`, with `headers` added. */
export function mcpRequest(body: unknown, headers: Record<string, string> = {}): Request {
  return new Request("http://127.0.0.1/mcp", {
    method: "POST",
    headers: { ...MCP_HEADERS, ...headers },
    body: JSON.stringify(body),
  });
}
