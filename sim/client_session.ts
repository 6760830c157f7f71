/**
 * One client's session as this process holds it: its SDK server and transport, its lazily opened
 * backend sessions, and the request headers some servers see.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/index"
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import type { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/shared/protocol"
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type {
  ClientCapabilities,
  LoggingLevel,
  ServerNotification,
  ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import type { RequestAttributes } from "./routing.ts";
import type { UpstreamConnection } from "./upstream.ts";
import { relayBody } from "./streams.ts";

/** What the SDK hands a request handler. */
export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** One client's session: its SDK server and transport, and its lazily opened backend sessions. */
export class ClientSession {
  /** The SDK server answering this client. */
  readonly server: Server;
  /** The SDK transport of this client's HTTP requests. */
  readonly transport: WebStandardStreamableHTTPServerTransport;
  /** Backend sessions by server name, opened on first use. */
  readonly upstreams = new Map<string, Promise<UpstreamConnection>>();
  /** Calls in flight per server; a backend's own requests go to the newest one's stream. */
  readonly inflight = new Map<string, Extra[]>();
  /**
   * Attributes the HTTP layer computed for a request, by JSON id, picked up by the SDK handler of the
   * same request so they are computed once.
   */
  readonly pendingAttributes = new Map<string, RequestAttributes>();
  /** The level the client asked for with `logging/setLevel`. */
  logLevel?: LoggingLevel;
  /** True once the session closed in this process. */
  closed = false;
  /** Protocol version negotiated at initialize (possibly by another replica). */
  protocolVersion?: string;
  /** When the client last sent a request or a stream of its ended (ms since the epoch). */
  lastUsed = Date.now();
  /** Its GET streams open now: a client listening for notifications is not idle. */
  openStreams = 0;
  /** Headers of its latest request; kept as they came, filtered only when a server needs them. */
  requestHeaders: Headers = new Headers();

  /** A session `id` answered by `server` over `transport`. */
  constructor(readonly id: string, server: Server, transport: WebStandardStreamableHTTPServerTransport) {
    this.server = server;
    this.transport = transport;
  }

  /** What `userSpecificList` servers get of the latest request (see `userHeaders`). */
  get userHeaders(): Record<string, string> {
    return userHeaders(this.requestHeaders);
  }

  /** The capabilities the client declared at initialize. */
  get capabilities(): ClientCapabilities {
    return this.server.getClientCapabilities() ?? {};
  }

  /** Hands `attributes` of request `id` to its SDK handler (see `takeAttributes`). */
  handOver(id: string | number, attributes: RequestAttributes): void {
    const k = JSON.stringify(id);
    this.pendingAttributes.set(k, attributes);
    // The SDK handler consumes it; this bounds the map if the request never reaches one.
    setTimeout(() => this.pendingAttributes.delete(k), 0);
  }

  /** The attributes the HTTP layer computed for request `id`, once. */
  takeAttributes(id: string | number): RequestAttributes | undefined {
    const k = JSON.stringify(id);
    const a = this.pendingAttributes.get(k);
    this.pendingAttributes.delete(k);
    return a;
  }

  /** Counts a GET stream as open on this session until it ends or the client goes away. */
  trackStream(res: Response): Response {
    if (!res.body) return res;
    const reader = res.body.getReader();
    let open = true;
    this.openStreams++;
    const end = () => {
      if (!open) return;
      open = false;
      this.openStreams--;
      this.lastUsed = Date.now();
    };
    const body = relayBody(reader, { onEnd: end });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
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
