/**
 * One client's session as this process holds it: its SDK server and transport, its lazily opened
 * backend sessions, and the request headers some servers see.
 *
 * The SDK server and transport are made when the session needs them and dropped once it is idle
 * (see `release`): an idle session is this small record, and its next request gets a new pair that
 * starts out initialised as the client left it, as a replica resuming the session does.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/index"
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import type {
  HandleRequestOptions,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/shared/protocol"
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type {
  ClientCapabilities,
  Implementation,
  LoggingLevel,
  ServerNotification,
  ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import type { RequestAttributes } from "./routing.ts";
import type { UpstreamConnection } from "./upstream.ts";
import { relayBody } from "./streams.ts";

/** What the SDK hands a request handler. */
export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** A session's SDK server and the transport it is connected to. */
export interface SdkPair {
  /** The SDK server answering the client. */
  server: Server;
  /** The SDK transport of the client's HTTP requests. */
  transport: WebStandardStreamableHTTPServerTransport;
}

/** Where a session gets its SDK pair from; one object serves every session of a registry. */
export interface SdkSource {
  /** A new SDK server for `session`, connected to a new transport. */
  open(session: ClientSession): SdkPair;
  /** Called once `session.server` and `session.transport` are a new pair (to install handlers). */
  opened?(session: ClientSession): void;
}

/** What a new SDK pair of an initialised session starts from: the client as its initialize left it. */
export interface InitializedClient {
  /** The capabilities the client declared. */
  capabilities: ClientCapabilities;
  /** The client's `clientInfo`. */
  clientInfo?: Implementation;
}

/**
 * The SDK's private state a new pair takes over (webStandardStreamableHttp.js: `_initialized`;
 * server/index.js: `_clientCapabilities`, `_clientVersion`; shared/protocol.js: `_requestMessageId`).
 */
interface SdkInternals {
  _initialized: boolean;
  _clientCapabilities?: ClientCapabilities;
  _clientVersion?: Implementation;
  _requestMessageId: number;
}

/** A map or set of the SDK's, or undefined when a newer SDK renamed it (then taken as not empty). */
type Sized = { size: number } | undefined;

/**
 * True when the pair holds nothing in flight, so dropping it loses nothing: no stream open and no
 * answer pending on the transport, no request handled or awaited by the server, no timer
 * (webStandardStreamableHttp.js, shared/protocol.js).
 */
function pairIdle({ server, transport }: SdkPair): boolean {
  const t = transport as unknown as Record<string, Sized>;
  const s = server as unknown as Record<string, Sized>;
  const empty = (m: Sized) => m !== undefined && m.size === 0;
  return empty(t._streamMapping) && empty(t._requestToStreamMapping) && empty(t._requestResponseMap) &&
    empty(s._requestHandlerAbortControllers) && empty(s._responseHandlers) && empty(s._progressHandlers) &&
    empty(s._timeoutInfo) && empty(s._pendingDebouncedNotifications);
}

/** One client's session: its SDK server and transport, and its lazily opened backend sessions. */
export class ClientSession {
  #source: SdkSource;
  #sdk?: SdkPair;
  /** Set once the client's initialize was handled (here, or by the replica that issued the id). */
  #client?: InitializedClient;
  /** The id the next request the gateway sends the client takes (carried from pair to pair). */
  #nextRequestId = 0;
  // The maps below are made on first use and dropped with the SDK pair while empty: an empty Map
  // is about 240 bytes, and an idle session needs none of them.
  #upstreams?: Map<string, Promise<UpstreamConnection>>;
  #inflight?: Map<string, Extra[]>;
  #pendingAttributes?: Map<string, RequestAttributes>;
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

  /** A session `id` whose SDK server and transport come from `source` when needed. */
  constructor(readonly id: string, source: SdkSource) {
    this.#source = source;
  }

  /** Backend sessions by server name, opened on first use. */
  get upstreams(): Map<string, Promise<UpstreamConnection>> {
    return this.#upstreams ??= new Map();
  }

  /** Calls in flight per server; a backend's own requests go to the newest one's stream. */
  get inflight(): Map<string, Extra[]> {
    return this.#inflight ??= new Map();
  }

  /**
   * Attributes the HTTP layer computed for a request, by JSON id, picked up by the SDK handler of the
   * same request so they are computed once.
   */
  get pendingAttributes(): Map<string, RequestAttributes> {
    return this.#pendingAttributes ??= new Map();
  }

  /** The SDK server answering this client (made now when the session holds none). */
  get server(): Server {
    return this.#pair().server;
  }

  /** The SDK transport of this client's HTTP requests (made now when the session holds none). */
  get transport(): WebStandardStreamableHTTPServerTransport {
    return this.#pair().transport;
  }

  /** True while the session holds an SDK server and transport. */
  get warm(): boolean {
    return this.#sdk !== undefined;
  }

  /** True once the client's initialize was answered (here, or by the replica that issued the id). */
  get initialized(): boolean {
    return this.#client !== undefined || this.#sdk?.transport.sessionId !== undefined;
  }

  /**
   * Takes the session as initialised by another replica (or before this process restarted): the
   * pairs made from now on start out with `client`, as the replica that served the initialize had it.
   */
  restore(client: InitializedClient): void {
    this.#client = client;
    if (this.#sdk) this.#takeOver(this.#sdk);
  }

  /**
   * Hands an HTTP request of this session to its SDK transport. A request that carried only
   * notifications or responses (answered 202) leaves nothing to wait for, so the pair is dropped
   * at once when nothing else is in flight (see `release`).
   */
  async handleRequest(req: Request, options?: HandleRequestOptions): Promise<Response> {
    const res = await this.transport.handleRequest(req, options);
    if (res.status === 202) this.release();
    return res;
  }

  /**
   * Drops the SDK server and transport when nothing is in flight on them (no request handled or
   * awaited, no stream open, no backend call waiting for this client) and the client's initialize
   * was answered; the next use makes a new pair (see the module doc). True when the session holds
   * none now.
   */
  release(): boolean {
    const sdk = this.#sdk;
    if (!sdk) return true;
    if (this.openStreams > 0 || sdk.transport.sessionId === undefined || !pairIdle(sdk)) return false;
    for (const stack of this.#inflight?.values() ?? []) if (stack.length) return false;
    const internals = sdk.server as unknown as SdkInternals;
    this.#client = {
      capabilities: internals._clientCapabilities ?? {},
      ...(internals._clientVersion ? { clientInfo: internals._clientVersion } : {}),
    };
    this.#nextRequestId = internals._requestMessageId;
    this.#sdk = undefined;
    // What servers see of the request is kept, not the request's whole header list (the transport's
    // headers and a long session id): 2 KiB of an idle session's 4 (bench/results/heap_session.md).
    this.requestHeaders = new Headers(this.userHeaders);
    if (!this.#upstreams?.size) this.#upstreams = undefined;
    // Every stack is empty here (checked above).
    this.#inflight = undefined;
    if (!this.#pendingAttributes?.size) this.#pendingAttributes = undefined;
    return true;
  }

  /** Closes the SDK transport, when the session holds one; no pair is made for it. */
  async closeTransport(): Promise<void> {
    const sdk = this.#sdk;
    this.#sdk = undefined;
    await sdk?.transport.close().catch(() => {});
  }

  #pair(): SdkPair {
    if (this.#sdk) return this.#sdk;
    const sdk = this.#source.open(this);
    if (this.#client) this.#takeOver(sdk);
    this.#sdk = sdk;
    this.#source.opened?.(this);
    return sdk;
  }

  /** Starts `sdk` out initialised (see `restore`); the SDK sets these only while handling initialize. */
  #takeOver(sdk: SdkPair): void {
    const client = this.#client!;
    sdk.transport.sessionId = this.id;
    const transport = sdk.transport as unknown as SdkInternals;
    transport._initialized = true;
    const server = sdk.server as unknown as SdkInternals;
    server._clientCapabilities = client.capabilities;
    server._clientVersion = client.clientInfo;
    server._requestMessageId = this.#nextRequestId;
  }

  /** What `userSpecificList` servers get of the latest request (see `userHeaders`). */
  get userHeaders(): Record<string, string> {
    return userHeaders(this.requestHeaders);
  }

  /** The capabilities the client declared at initialize. */
  get capabilities(): ClientCapabilities {
    return (this.#sdk ? this.#sdk.server.getClientCapabilities() : this.#client?.capabilities) ?? {};
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
