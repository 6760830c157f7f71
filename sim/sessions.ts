/**
 * The client sessions this process holds: issued on initialize (recorded in the store before the
 * client sees the id), found by their signed id, resumed from the store when another replica issued
 * them, closed on DELETE, on idleness or with the gateway.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/server/index"
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  type ClientCapabilities,
  type Implementation,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "@modelcontextprotocol/sdk/types.js";
import type { BackendPool } from "./backends.ts";
import { ClientSession } from "./client_session.ts";
import { DISCOVERY_INSTRUCTIONS } from "./discovery.ts";
import type { ListsChanged } from "./server_set.ts";
import type { Metrics } from "./metrics.ts";
import type { Logger } from "./options.ts";
import { SessionSigner } from "./session.ts";
import { type SessionRecord, type SessionStore, SessionStoreError } from "./store.ts";
import { RpcCode, rpcError } from "./transport.ts";
import { GATEWAY_INFO, message } from "./upstream.ts";

/** Options of a `SessionRegistry`. */
export interface SessionRegistryOptions {
  /** Where sessions are recorded (shared by replicas when Redis). */
  store: SessionStore;
  /** The backend sessions of each client session. */
  backends: BackendPool;
  /** Session counts. */
  metrics: Metrics;
  /** Diagnostics. */
  log: Logger;
  /** Sessions held at most; `create` past it refuses. */
  maxSessions: number;
  /** The `instructions` a new session gets: with discovery meta-tools on, how to use them. */
  discoveryTools(): boolean;
  /** Installs the MCP request handlers on a new session's SDK server. */
  setup(session: ClientSession): void;
  /** The session closed in this process: forget what other parts keep for it. */
  onClose(id: string): void;
}

/** Thrown by `create` when the session cap is reached. */
export class SessionCapError extends Error {
  /** The cap that was reached. */
  constructor(readonly max: number) {
    super(`The gateway holds ${max} sessions, its limit; try again later.`);
    this.name = "SessionCapError";
  }
}

/** The client sessions of this process. */
export class SessionRegistry {
  #opts: SessionRegistryOptions;
  #signer: SessionSigner;
  #sessions = new Map<string, ClientSession>();
  /** Sessions being brought back from the store, so concurrent requests for one id share one. */
  #resuming = new Map<string, Promise<ClientSession>>();
  /** Sessions `create` is building: they count against the cap before the SDK holds them. */
  #creating = 0;
  #sweeper?: ReturnType<typeof setInterval>;

  /** A registry signing ids with `signingKey` (random when omitted; see `useSigner`). */
  constructor(opts: SessionRegistryOptions, signingKey?: string | Uint8Array) {
    this.#opts = opts;
    this.#signer = new SessionSigner(signingKey);
  }

  /** Signs and verifies ids with `signer` from now on (the store's shared one, see `SessionSigner.shared`). */
  useSigner(signer: SessionSigner): void {
    this.#signer = signer;
  }

  /** Sessions held now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Every session held now. */
  values(): IterableIterator<ClientSession> {
    return this.#sessions.values();
  }

  /** Closes sessions idle for longer than `idleMs` (no request, no open stream), checking periodically. */
  startSweeper(idleMs: number): void {
    if (idleMs <= 0) return;
    this.#sweeper = setInterval(() => this.closeIdle(idleMs), Math.min(60_000, Math.max(50, idleMs / 4)));
  }

  /** Closes sessions idle for longer than `idleMs`. */
  closeIdle(idleMs: number): void {
    const now = Date.now();
    for (const s of this.#sessions.values()) {
      if (s.closed || s.openStreams > 0 || now - s.lastUsed <= idleMs) continue;
      this.#opts.log("info", `Session idle for ${Math.round((now - s.lastUsed) / 1000)} s; closed.`, {
        session: s.id,
      });
      void this.close(s.id);
    }
  }

  /** Tells every open session which lists changed. */
  notifyListsChanged(changed: ListsChanged): void {
    for (const s of this.#sessions.values()) {
      if (s.closed) continue;
      if (changed.tools) s.server.sendToolListChanged().catch(() => {});
      if (changed.prompts) s.server.sendPromptListChanged().catch(() => {});
      if (changed.resources) s.server.sendResourceListChanged().catch(() => {});
    }
  }

  /**
   * The session a request names in `Mcp-Session-Id`, or the error response: 400 without the header,
   * 404 for an id this gateway did not issue or that ended. Error answers carry `requestId`, the id
   * of the posted message, when given.
   */
  async find(req: Request, requestId?: unknown): Promise<ClientSession | Response> {
    const id = req.headers.get("mcp-session-id");
    const notFound = () => rpcError(404, RpcCode.SessionNotFound, "Session not found.", { id: requestId });
    if (!id) {
      return rpcError(400, RpcCode.ServerError, "Bad Request: the Mcp-Session-Id header is required.", {
        id: requestId,
      });
    }
    // Only ids this gateway issued become keys of #sessions, so finding one authenticates it: the HMAC
    // verify (about a sixth of the gateway's CPU per tools/call in `deno task bench`) is left to ids
    // this process does not hold.
    const s = this.#sessions.get(id);
    if (!s) {
      try {
        await this.#signer.verify(id);
      } catch (err) {
        // The store could not be asked for the current key: a 503 naming it, not a forgotten session.
        if (err instanceof SessionStoreError) throw err;
        return notFound();
      }
    }
    // The store decides whether a session lives: another replica may have ended it (DELETE) or
    // created it, or this process restarted since the client initialised.
    const record = await this.#opts.store.get(id);
    if (!record) {
      if (s) await this.close(id, false);
      return notFound();
    }
    if (s?.closed) return notFound();
    // Another request for the id may have resumed it while this one awaited the store.
    const session = s ?? this.#sessions.get(id) ?? await this.#resume(id, record);
    session.lastUsed = Date.now();
    session.requestHeaders = req.headers;
    return session;
  }

  /**
   * A new session for an initialize request: its record is stored before the client gets its id.
   * Throws `SessionCapError` when this process holds `maxSessions` already.
   */
  async create(params: unknown): Promise<ClientSession> {
    if (this.#sessions.size + this.#resuming.size + this.#creating >= this.#opts.maxSessions) {
      throw new SessionCapError(this.#opts.maxSessions);
    }
    this.#creating++;
    try {
      return await this.#create(params);
    } finally {
      this.#creating--;
    }
  }

  async #create(params: unknown): Promise<ClientSession> {
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
    await this.#opts.store.create(id, record);
    const session = await this.#build(id);
    session.protocolVersion = protocolVersion;
    return session;
  }

  /** True when the SDK accepted the initialize of `session` (it is then held). */
  holds(id: string): boolean {
    return this.#sessions.has(id);
  }

  /**
   * Closes this process's copy of a session. With `end` (the client's DELETE; or any close on a
   * store no one else reads) the session ends everywhere: its backend sessions are terminated, the
   * ones other replicas opened too, and the store forgets it. Without, only the local copy goes
   * (gateway shutdown on a shared store, or another replica ended it): the store keeps what other
   * replicas, or this one restarted, need.
   */
  async close(id: string, end = !this.#opts.store.shared): Promise<void> {
    const { store, backends, log, metrics } = this.#opts;
    const s = this.#sessions.get(id);
    if (!s || s.closed) return;
    s.closed = true;
    this.#opts.onClose(id);
    this.#sessions.delete(id);
    metrics.sessions(this.#sessions.size);
    const mapped = end && store.shared
      ? await store.listBackends(id).catch(() => ({} as Record<string, string>))
      : {};
    await backends.closeAll(s, end, mapped);
    if (end) await store.delete(id).catch((err) => log("warn", message(err), { session: id }));
    await s.transport.close().catch(() => {});
  }

  /** Closes every session in this process (ending them unless the store is shared). */
  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all([...this.#sessions.keys()].map((id) => this.close(id)));
  }

  /** Serves a session this process does not hold but the store knows, under the same id. */
  #resume(id: string, record: SessionRecord): Promise<ClientSession> {
    let resuming = this.#resuming.get(id);
    if (!resuming) {
      resuming = (async () => {
        const session = await this.#build(id, record);
        this.#sessions.set(id, session);
        this.#opts.metrics.sessions(this.#sessions.size);
        this.#opts.log("info", "Session resumed from the session store.", { session: id });
        return session;
      })().finally(() => this.#resuming.delete(id));
      this.#resuming.set(id, resuming);
    }
    return resuming;
  }

  /**
   * An SDK server and transport for session `id`. With `restored`, the transport starts out
   * initialised with that id and the server with the client's capabilities and info, as the
   * replica that served the initialize had them.
   */
  async #build(id: string, restored?: SessionRecord): Promise<ClientSession> {
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      onsessioninitialized: (sid) => {
        this.#sessions.set(sid, session);
        this.#opts.metrics.sessions(this.#sessions.size);
      },
      onsessionclosed: (sid) => this.close(sid, true),
    });
    const server = new Server(GATEWAY_INFO, {
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { listChanged: true, subscribe: true },
        completions: {},
        logging: {},
      },
      instructions: this.#opts.discoveryTools()
        ? DISCOVERY_INSTRUCTIONS
        : "Federated MCP gateway (kubectl-mcp simulator).",
    });
    const session = new ClientSession(id, server, transport);
    this.#opts.setup(session);
    server.onclose = () => void this.close(id);
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
}
