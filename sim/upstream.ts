/**
 * Connections to upstream MCP servers. `connectUpstream` opens one SDK client (any protocol version
 * the SDK speaks, so 2025-03-26 servers keep working); `Upstream` is the gateway-owned discovery side
 * of one server: it lists what the server offers, re-lists on `list_changed`, and pings it for health.
 *
 * Backends are not trusted: the client's fetch reads their answers within a cap and follows a
 * redirect only within the server's origin (`backend_fetch.ts`). A response can only settle a
 * request of the same SDK client, which speaks to that one server for one client session (or for
 * discovery): a backend can answer only requests that were sent to it.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  type ClientCapabilities,
  ErrorCode,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResultSchema,
  type Tool,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { AsyncLocalStorage } from "node:async_hooks";
import { boundedFetch, type FetchLike, policyHeaderEntries } from "./backend_fetch.ts";
import { type ServerConfig, serverEndpoint } from "./config.ts";
import { UpstreamError } from "./errors.ts";
import { redactedMessage } from "./redact.ts";
import type { ServerListing } from "./federation.ts";
import { DEFAULT_SSE_LIMIT_BYTES } from "./sse.ts";

/** The policy's success headers of the routed request being sent (see {@linkcode withPolicyHeaders}). */
const policyHeaders = new AsyncLocalStorage<Record<string, string>>();

/**
 * Runs `send` so that the request it makes to a backend carries `headers`, the success headers the
 * AuthPolicy added to the client's routed request (as Envoy forwards what Authorino allowed): set
 * last, so one named `authorization` replaces the credential, as on the pass-through
 * (`backendHeaders`). Requests the gateway makes on its own (a session's initialize, lists) run
 * outside and carry none.
 */
export function withPolicyHeaders<T>(headers: Record<string, string> | undefined, send: () => T): T {
  return headers && Object.keys(headers).length > 0 ? policyHeaders.run(headers, send) : send();
}

/** Name and version the gateway presents to upstreams. */
export const GATEWAY_INFO = { name: "kubectl-mcp-sim", version: "0.1.0" };

/** Options of `connectUpstream`. */
export interface ConnectOptions {
  /** Capabilities to declare: the calling client's, so the backend may elicit, sample or ask for roots. */
  capabilities?: ClientCapabilities;
  /** Resume an existing backend session (from the session store) instead of initialising. */
  sessionId?: string;
  /** Timeout of the initialize exchange. */
  timeoutMs?: number;
  /**
   * Headers read again for every request instead of the registration's credential: a
   * `userSpecificList` server gets the calling client's own, as they are on its latest request.
   */
  headers?: () => Record<string, string>;
  /**
   * Cap on a backend's answer: a JSON body, one SSE line, one SSE event (the extension's
   * `maxBodyBytes`); default {@linkcode DEFAULT_SSE_LIMIT_BYTES}.
   */
  maxBytes?: number;
  /** Where a backend's dropped messages are reported (never with their contents). */
  log?: (level: "warn", msg: string) => void;
  /**
   * Open the standalone GET stream the backend's notifications arrive on (default true). Without
   * it the SDK is answered 405 locally, which it takes as a server that offers none.
   */
  standaloneStream?: boolean;
}

/** A live SDK client to one backend. */
export interface UpstreamConnection {
  client: Client;
  transport: StreamableHTTPClientTransport;
}

/**
 * Opens a client to `server`. The registration's credential is its `Authorization` header; nothing
 * from the calling client's request is forwarded, unless `opts.headers` says what to send instead.
 */
export async function connectUpstream(
  server: ServerConfig,
  opts: ConnectOptions = {},
): Promise<UpstreamConnection> {
  const headers: Record<string, string> = {};
  if (server.credential && !opts.headers) headers.Authorization = server.credential;
  const dynamic = opts.headers;
  const base: FetchLike = (url, init) => {
    if (opts.standaloneStream === false && (init?.method ?? "GET") === "GET") {
      return Promise.resolve(new Response(null, { status: 405 }));
    }
    const policy = policyHeaders.getStore();
    if (!dynamic && !policy) return fetch(url, init);
    const merged = new Headers(init?.headers);
    for (const [name, value] of Object.entries(dynamic?.() ?? {})) {
      if (!merged.has(name)) merged.set(name, value);
    }
    for (const [name, value] of policyHeaderEntries(policy)) merged.set(name, value);
    return fetch(url, { ...init, headers: merged });
  };
  const transport = new StreamableHTTPClientTransport(serverEndpoint(server), {
    requestInit: { headers },
    fetch: boundedFetch({
      server: server.name,
      maxBytes: opts.maxBytes ?? DEFAULT_SSE_LIMIT_BYTES,
      fetch: base,
      log: opts.log,
    }),
    // The SDK's default, stated: a redirect to another origin fails the request, as in the cluster.
    redirectPolicy: "same-origin",
    sessionId: opts.sessionId,
    // Reconnecting the standalone GET stream forever would keep timers alive after a backend dies;
    // the health loop owns recovery instead.
    reconnectionOptions: {
      maxReconnectionDelay: 1000,
      initialReconnectionDelay: 200,
      reconnectionDelayGrowFactor: 2,
      maxRetries: 0,
    },
  });
  const client = new Client(GATEWAY_INFO, { capabilities: opts.capabilities ?? {} });
  try {
    await client.connect(transport, { timeout: opts.timeoutMs ?? 10_000 });
  } catch (cause) {
    await client.close().catch(() => {});
    const status = httpStatus(cause);
    const http = status ? ` (HTTP ${status})` : "";
    throw new UpstreamError(
      server.name,
      `Server ${server.name} could not be initialised${http}: ${message(cause)}`,
      {
        cause,
        status,
      },
    );
  }
  return { client, transport };
}

/** The HTTP status carried by an SDK transport error, if any. */
export function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "number" && code >= 100 && code < 600 ? code : undefined;
}

/**
 * A short message of any thrown value, safe to log and to show in `/status`: a header value that
 * fetch quotes in its error (a credential) is replaced by a note (`redactHeaderValues`).
 */
export function message(err: unknown): string {
  return redactedMessage(err);
}

/** Every page of a paginated list (at most 1,000 pages; a repeated cursor ends it). */
async function pages<T>(
  fetchPage: (cursor?: string) => Promise<{ items: T[]; nextCursor?: string }>,
): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const page = await fetchPage(cursor);
    all.push(...page.items);
    if (!page.nextCursor || page.nextCursor === cursor) break;
    cursor = page.nextCursor;
  }
  return all;
}

const cursorParams = (cursor?: string) => (cursor ? { cursor } : {});

/**
 * Every tool a server lists, all pages read. Tools are read with a loose schema: the SDK's strict
 * one rejects the whole list when one tool has an invalid schema, and the invalid-tool policy must
 * see that tool to drop it (or the server).
 */
export function listTools(client: Client, timeoutMs: number): Promise<Tool[]> {
  return pages(async (cur) => {
    const r = await client.request({ method: "tools/list", params: cursorParams(cur) }, ResultSchema, {
      timeout: timeoutMs,
    });
    if (!Array.isArray(r.tools)) throw new Error("The tools/list result has no tools array.");
    const items = r.tools.filter((t): t is Tool =>
      typeof t === "object" && t !== null && typeof (t as { name?: unknown }).name === "string"
    );
    return { items, nextCursor: typeof r.nextCursor === "string" ? r.nextCursor : undefined };
  });
}

/** Options of `listEverything`. */
export interface ListOptions {
  /**
   * Also list resource templates (`federateAll` serves them; the cluster's broker never asks). A
   * server that answers `-32601` has none.
   */
  templates?: boolean;
  /** List tools only: no prompts, resources or templates (`GatewayOptions.toolsOnly`). */
  toolsOnly?: boolean;
}

/** Everything a server offers, all pages read. */
export async function listEverything(
  client: Client,
  timeoutMs: number,
  options: ListOptions = {},
): Promise<Omit<ServerListing, "name" | "prefix">> {
  const caps = client.getServerCapabilities() ?? {};
  const opts = { timeout: timeoutMs };
  const c = cursorParams;
  const tools = caps.tools ? await listTools(client, timeoutMs) : [];
  if (options.toolsOnly) return { tools, prompts: [], resources: [], resourceTemplates: [] };
  const prompts = caps.prompts
    ? await pages(async (cur) => {
      const r = await client.listPrompts(c(cur), opts);
      return { items: r.prompts, nextCursor: r.nextCursor };
    })
    : [];
  const resources = caps.resources
    ? await pages(async (cur) => {
      const r = await client.listResources(c(cur), opts);
      return { items: r.resources, nextCursor: r.nextCursor };
    })
    : [];
  const resourceTemplates = caps.resources && options.templates
    ? await pages(async (cur) => {
      const r = await client.listResourceTemplates(c(cur), opts);
      return { items: r.resourceTemplates, nextCursor: r.nextCursor };
    }).catch((err) => {
      // Templates are optional: a server with resources need not implement their list.
      if (err instanceof McpError && err.code === ErrorCode.MethodNotFound) return [];
      throw err;
    })
    : [];
  return { tools, prompts, resources, resourceTemplates };
}

/** Health of one upstream as `/status` reports it. */
export type UpstreamState = "connecting" | "ready" | "unhealthy" | "disabled";

/** Pings that must fail in a row before a server's tools are withdrawn, as upstream does. */
export const FAILURES_BEFORE_UNHEALTHY = 3;

/** Options of an `Upstream`. */
export interface UpstreamOptions {
  /** Milliseconds between health pings. */
  pingIntervalMs: number;
  /** Timeout of each upstream exchange made by discovery. */
  timeoutMs: number;
  /** List resource templates too (see `ListOptions.templates`); default false. */
  listTemplates?: boolean;
  /** Open the standalone GET stream (see `ConnectOptions.standaloneStream`); default true. */
  standaloneStream?: boolean;
  /** List tools only (see `ListOptions.toolsOnly`); default false. */
  toolsOnly?: boolean;
  /** Called whenever the server's listing or health changes. */
  onChange: () => void;
  /** Called with each upstream exchange's latency (seconds) for metrics. */
  onLatency?: (method: string, seconds: number) => void;
  /** Where diagnostics go. */
  log: (level: "info" | "warn" | "error", msg: string) => void;
  /** Cap on the server's answers (see `ConnectOptions.maxBytes`). */
  maxBytes?: number;
}

/** The gateway's own discovery session and health loop for one server. */
export class Upstream {
  /** The registration this upstream serves. */
  readonly config: ServerConfig;
  /** Current health. */
  state: UpstreamState;
  /** Last error seen, cleared by a successful exchange. */
  lastError?: string;
  /** Pings failed in a row. */
  failures = 0;
  /** Health rounds finished, successful or not; `/readyz` waits for the first. */
  rounds = 0;
  /** When the last health round finished (`/status` `lastValidated`). */
  validatedAt?: Date;
  /** Last successful listing; served only while `state` is `ready`. */
  listing?: ServerListing;
  /** Protocol version the backend negotiated. */
  protocolVersion?: string;
  #conn?: UpstreamConnection;
  #opts: UpstreamOptions;
  #timer?: ReturnType<typeof setTimeout>;
  #closed = false;
  #busy?: Promise<void>;
  #refreshAgain = false;
  #ticking?: Promise<void>;

  constructor(config: ServerConfig, opts: UpstreamOptions) {
    this.config = config;
    this.#opts = opts;
    this.state = config.enabled ? "connecting" : "disabled";
  }

  /** Connects and lists once, then pings on the interval. Resolves after the first attempt. */
  async start(): Promise<void> {
    if (!this.config.enabled) return;
    await (this.#ticking = this.#tick());
    this.#schedule();
  }

  #schedule() {
    if (this.#closed) return;
    this.#timer = setTimeout(async () => {
      await (this.#ticking = this.#tick());
      this.#schedule();
    }, this.#opts.pingIntervalMs);
  }

  /** One health round: connect and list when not connected, else ping. */
  async #tick(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#round();
    } finally {
      this.rounds++;
      this.validatedAt = new Date();
    }
  }

  async #round(): Promise<void> {
    try {
      if (!this.#conn) {
        await this.#connectAndList();
      } else {
        const t0 = performance.now();
        await this.#conn.client.ping({
          timeout: Math.min(this.#opts.timeoutMs, this.#opts.pingIntervalMs * 2 + 1000),
        });
        this.#opts.onLatency?.("ping", (performance.now() - t0) / 1000);
      }
      const wasReady = this.state === "ready";
      this.failures = 0;
      this.lastError = undefined;
      this.state = "ready";
      if (!wasReady) this.#opts.onChange();
    } catch (err) {
      if (this.#closed) return;
      this.failures++;
      this.lastError = message(err);
      const conn = this.#conn;
      this.#conn = undefined;
      // A failed ping may mean the backend restarted and forgot our session: start afresh next round.
      await conn?.client.close().catch(() => {});
      this.#opts.log(
        "warn",
        `Server ${this.config.name} failed a health check (${this.failures}): ${this.lastError}`,
      );
      if (this.failures >= FAILURES_BEFORE_UNHEALTHY && this.state !== "unhealthy") {
        this.state = "unhealthy";
        this.#opts.log("error", `Server ${this.config.name} is unhealthy; its tools are withdrawn.`);
        this.#opts.onChange();
      }
    }
  }

  async #connectAndList(): Promise<void> {
    const t0 = performance.now();
    const conn = await connectUpstream(this.config, {
      timeoutMs: this.#opts.timeoutMs,
      maxBytes: this.#opts.maxBytes,
      log: this.#opts.log,
      standaloneStream: this.#opts.standaloneStream,
    });
    this.#opts.onLatency?.("initialize", (performance.now() - t0) / 1000);
    if (this.#closed) {
      await conn.client.close().catch(() => {});
      return;
    }
    const relist = () => void this.refresh();
    conn.client.setNotificationHandler(ToolListChangedNotificationSchema, relist);
    conn.client.setNotificationHandler(PromptListChangedNotificationSchema, relist);
    conn.client.setNotificationHandler(ResourceListChangedNotificationSchema, relist);
    this.#conn = conn;
    this.protocolVersion = conn.transport.protocolVersion;
    try {
      await this.#list(conn);
    } catch (err) {
      this.#conn = undefined;
      await conn.client.close().catch(() => {});
      throw err;
    }
  }

  async #list(conn: UpstreamConnection): Promise<void> {
    if (this.config.userSpecificList) {
      // As upstream's broker: listed per user, with each client's headers; this session only checks health.
      this.listing = {
        name: this.config.name,
        prefix: this.config.prefix,
        tools: [],
        prompts: [],
        resources: [],
        resourceTemplates: [],
      };
      return;
    }
    const t0 = performance.now();
    const all = await listEverything(conn.client, this.#opts.timeoutMs, {
      templates: this.#opts.listTemplates,
      toolsOnly: this.#opts.toolsOnly,
    });
    this.#opts.onLatency?.("list", (performance.now() - t0) / 1000);
    this.listing = { name: this.config.name, prefix: this.config.prefix, ...all };
  }

  /** Re-lists after an upstream `list_changed`; concurrent calls coalesce into one more round. */
  refresh(): Promise<void> {
    if (this.#busy) {
      this.#refreshAgain = true;
      return this.#busy;
    }
    this.#busy = (async () => {
      do {
        this.#refreshAgain = false;
        const conn = this.#conn;
        if (!conn || this.#closed) break;
        try {
          await this.#list(conn);
          if (this.state === "ready") this.#opts.onChange();
        } catch (err) {
          this.lastError = message(err);
          this.#opts.log("warn", `Server ${this.config.name} could not be re-listed: ${this.lastError}`);
        }
      } while (this.#refreshAgain);
    })().finally(() => (this.#busy = undefined));
    return this.#busy;
  }

  /** Stops pinging and closes the discovery session. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const conn = this.#conn;
    this.#conn = undefined;
    if (conn) {
      await conn.transport.terminateSession().catch(() => {});
      await conn.client.close().catch(() => {});
    }
    // Closing the client aborted whatever the health round or a re-list had in flight.
    await this.#ticking?.catch(() => {});
    await this.#busy?.catch(() => {});
  }
}
