/**
 * The client sessions this process holds: issued on initialize (recorded in the store before the
 * client sees the id), found by their signed id, resumed from the store when another replica issued
 * them, closed on DELETE, on idleness or with the gateway.
 *
 * As the cluster's broker does (session_resurrection.go), a session whose id this gateway's key
 * signed but that no store knows (the gateway restarted with the same key and an in-memory store)
 * is brought back under the same id: its record is rebuilt from the id and the request, and its
 * backend sessions open again on first use. Unlike the broker, an id that ended in this process
 * (DELETE, idleness) stays ended.
 *
 * What a session answers to initialize is the broker's: its server name and version, the
 * capabilities it declares (more with `federateAll`), its discovery instructions.
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
  DEFAULT_NEGOTIATED_PROTOCOL_VERSION,
  type Implementation,
  LATEST_PROTOCOL_VERSION,
  type ServerCapabilities,
  SUPPORTED_PROTOCOL_VERSIONS,
} from "@modelcontextprotocol/sdk/types.js";
// @ts-types="@modelcontextprotocol/sdk/validation/ajv-provider"
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv-provider.js";
import { decodeJwt } from "jose";
import type { BackendPool } from "./backends.ts";
import { ClientSession, type SdkPair, type SdkSource } from "./client_session.ts";
import type { ListsChanged } from "./server_set.ts";
import type { Metrics } from "./metrics.ts";
import type { Logger } from "./options.ts";
import { SessionSigner } from "./session.ts";
import { type SessionRecord, type SessionStore, SessionStoreError } from "./store.ts";
import { RpcCode, rpcError } from "./transport.ts";
import { message } from "./upstream.ts";

/** The server name and version the cluster's broker v0.9.0 answers initialize with (broker.go). */
export const BROKER_SERVER_INFO: Implementation = { name: "Kuadrant MCP Gateway", version: "0.0.1" };

/** The capabilities the broker declares: lists that change, nothing else (broker.go). */
export const BROKER_CAPABILITIES: ServerCapabilities = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { listChanged: true },
};

/** The capabilities with `federateAll`: subscriptions, completions and logging besides. */
export const FEDERATE_ALL_CAPABILITIES: ServerCapabilities = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { listChanged: true, subscribe: true },
  completions: {},
  logging: {},
};

/**
 * The broker's initialize `instructions` while the discovery meta-tools are served (discovery.go);
 * without them it sends none. Clients may show it to a model, so the simulator's is the cluster's.
 */
export const BROKER_INSTRUCTIONS =
  "This is an MCP Gateway that aggregates tools from multiple backend MCP servers into a single " +
  "endpoint. The full tool set may be large.\n\nTo avoid loading all tool schemas upfront, use the " +
  "discovery tools:\n1. Call discover_tools to browse available servers, categories, and tool names " +
  "(lightweight, no full schemas).\n2. Call select_tools with the tool names relevant to your task. " +
  "This sends a notifications/tools/list_changed notification. The filtered tool set is available " +
  "on the next tools/list call, not in the current turn.\n3. To change scope, call select_tools " +
  "again with a new set. Pass an empty list to reset to the full tool set.";

/**
 * The protocol version an initialize asking for `requested` gets, as the broker negotiates it: none
 * (empty, or not a string) is 2025-03-26 (http_compat.go), a supported one is echoed, any other is
 * the latest.
 */
export function negotiatedVersion(requested: unknown): string {
  if (typeof requested !== "string" || requested === "") return DEFAULT_NEGOTIATED_PROTOCOL_VERSION;
  return SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION;
}

/**
 * The JSON Schema validator every session's SDK server shares. Without one, each server makes its
 * own Ajv instance: 17 KiB of heap and about 1 ms per session (bench/results/heap_session.md). The
 * SDK uses it only in `elicitInput`, which the gateway never calls (it relays a backend's
 * elicitation as the backend sent it, backends.ts), so its compile cache does not grow.
 */
let sharedValidator: AjvJsonSchemaValidator | undefined;

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
  /** Declare what is served beyond the broker (see `GatewayOptions.federateAll`); false when unset. */
  federateAll?: boolean;
  /**
   * Installs the MCP request handlers on a session's SDK server, each time the session gets one (on
   * initialize, when resumed, and when used again after its pair was dropped while idle).
   */
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

/**
 * How long a session keeps its SDK server and transport after its last request while nothing is in
 * flight on them; a request then makes a new pair (about 0.1 ms). Requests that carry only
 * notifications or responses drop the pair at once (`ClientSession.handleRequest`).
 */
export const WARM_MS = 1000;

/** The client sessions of this process. */
export class SessionRegistry {
  #opts: SessionRegistryOptions;
  #signer: SessionSigner;
  #sessions = new Map<string, ClientSession>();
  /** Sessions being brought back from the store, so concurrent requests for one id share one. */
  #resuming = new Map<string, Promise<ClientSession>>();
  /** Sessions `create` is building: they count against the cap before the SDK holds them. */
  #creating = 0;
  /** Ids that ended in this process (DELETE, idleness) and when: never brought back. */
  #ended = new Map<string, number>();
  /** How old an id may be and still be brought back (the idle timeout); 0 for any age. */
  #maxAgeMs = 0;
  #sweeper?: ReturnType<typeof setInterval>;
  /** Sessions holding an SDK pair, for `#cool` to drop once idle (see `warmCount`). */
  #warm = new Set<ClientSession>();
  #cooler?: ReturnType<typeof setInterval>;
  /** Where every session of this registry gets its SDK pair. */
  #source: SdkSource = {
    open: (session) => this.#open(session),
    opened: (session) => {
      this.#opts.setup(session);
      this.#warm.add(session);
      if (!this.#cooler) {
        this.#cooler = setInterval(() => this.#cool(), WARM_MS);
        Deno.unrefTimer(this.#cooler);
      }
    },
  };

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

  /** Sessions holding an SDK server and transport now, or made for an initialize not yet forgotten. */
  get warmCount(): number {
    return this.#warm.size;
  }

  /** Every session held now. */
  values(): IterableIterator<ClientSession> {
    return this.#sessions.values();
  }

  /** Closes sessions idle for longer than `idleMs` (no request, no open stream), checking periodically. */
  startSweeper(idleMs: number): void {
    this.#maxAgeMs = Math.max(0, idleMs);
    if (idleMs <= 0) return;
    this.#sweeper = setInterval(() => this.closeIdle(idleMs), Math.min(60_000, Math.max(50, idleMs / 4)));
  }

  /** Closes sessions idle for longer than `idleMs`. */
  closeIdle(idleMs: number): void {
    const now = Date.now();
    // An id older than this cannot come back anyway (see #rebuilt).
    for (const [id, at] of this.#ended) {
      if (now - at <= idleMs) break;
      this.#ended.delete(id);
    }
    for (const s of this.#sessions.values()) {
      if (s.closed || s.openStreams > 0 || now - s.lastUsed <= idleMs) continue;
      this.#opts.log("info", `Session idle for ${Math.round((now - s.lastUsed) / 1000)} s; closed.`, {
        session: s.id,
      });
      void this.close(s.id);
    }
  }

  /**
   * Drops the SDK pairs of sessions unused for `WARM_MS` with nothing in flight, and forgets those
   * this registry does not hold (the SDK refused their initialize).
   */
  #cool(): void {
    const now = Date.now();
    for (const s of this.#warm) {
      const unused = now - s.lastUsed >= WARM_MS;
      if (s.closed || !s.warm || (unused && (this.#sessions.get(s.id) !== s || s.release()))) {
        this.#warm.delete(s);
      }
    }
    if (!this.#warm.size) {
      clearInterval(this.#cooler);
      this.#cooler = undefined;
    }
  }

  /** Tells every open session which lists changed. */
  notifyListsChanged(changed: ListsChanged): void {
    for (const s of this.#sessions.values()) {
      // A session without an SDK pair has no GET stream open, where the SDK would send these.
      if (s.closed || !s.warm) continue;
      if (changed.tools) s.server.sendToolListChanged().catch(() => {});
      if (changed.prompts) s.server.sendPromptListChanged().catch(() => {});
      if (changed.resources) s.server.sendResourceListChanged().catch(() => {});
    }
  }

  /**
   * The session a request names in `Mcp-Session-Id`, or the error response: 400 without the header,
   * 404 for an id this gateway did not issue or that ended. Error answers carry `requestId`, the id
   * of the posted message, when given. An id this gateway signed that the store does not know is
   * brought back when the store is this process's own (see the module doc).
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
    // created it, or this process restarted since the client initialised. A session held here needs
    // no record read back, only the answer (on Redis one EXPIRE instead of a script and the record).
    if (s) {
      if (!await this.#opts.store.touch(id)) {
        await this.close(id, false);
        return notFound();
      }
      if (s.closed) return notFound();
      s.lastUsed = Date.now();
      s.requestHeaders = req.headers;
      return s;
    }
    const record = await this.#opts.store.get(id);
    let session: ClientSession | undefined;
    if (!record) {
      const rebuilt = this.#rebuilt(id, req);
      if (!rebuilt) return notFound();
      session = await this.#resume(id, rebuilt, true);
    }
    // Another request for the id may have resumed it while this one awaited the store.
    session ??= this.#sessions.get(id) ?? await this.#resume(id, record!);
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
    // What the SDK negotiates once the endpoint filled in a missing version, so a replica resuming
    // the session agrees.
    const protocolVersion = negotiatedVersion(p.protocolVersion);
    const record: SessionRecord = {
      createdAt: Date.now(),
      protocolVersion,
      ...(p.clientInfo ? { clientInfo: p.clientInfo } : {}),
      ...(p.capabilities ? { clientCapabilities: p.capabilities } : {}),
    };
    await this.#opts.store.create(id, record);
    const session = this.#build(id);
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
    if (end) this.#remember(id);
    metrics.sessions(this.#sessions.size);
    const mapped = end && store.shared
      ? await store.listBackends(id).catch(() => ({} as Record<string, string>))
      : {};
    await backends.closeAll(s, end, mapped);
    if (end) await store.delete(id).catch((err) => log("warn", message(err), { session: id }));
    this.#warm.delete(s);
    await s.closeTransport();
  }

  /** Closes every session in this process (ending them unless the store is shared). */
  async closeAll(): Promise<void> {
    clearInterval(this.#sweeper);
    clearInterval(this.#cooler);
    this.#cooler = undefined;
    await Promise.all([...this.#sessions.keys()].map((id) => this.close(id)));
  }

  /** Remembers that `id` ended here, so it is not brought back; the oldest are forgotten past the cap. */
  #remember(id: string): void {
    this.#ended.set(id, Date.now());
    if (this.#ended.size > this.#opts.maxSessions) {
      this.#ended.delete(this.#ended.keys().next().value!);
    }
  }

  /**
   * The record of a session to bring back, rebuilt from its (verified) id and the request as the
   * broker does: the request's protocol version, else 2025-03-26; the client's capabilities and
   * info are not in the id, so the session goes on without them. Undefined when the id must stay
   * unknown: the store is shared (it decides), the id ended here, or it is older than the idle
   * timeout (a session idle that long would have been closed).
   */
  #rebuilt(id: string, req: Request): SessionRecord | undefined {
    if (this.#opts.store.shared || this.#ended.has(id)) return undefined;
    const issuedAt = (decodeJwt(id).iat ?? 0) * 1000;
    if (this.#maxAgeMs > 0 && Date.now() - issuedAt > this.#maxAgeMs) return undefined;
    const header = req.headers.get("mcp-protocol-version");
    return {
      createdAt: issuedAt,
      protocolVersion: header && SUPPORTED_PROTOCOL_VERSIONS.includes(header)
        ? header
        : DEFAULT_NEGOTIATED_PROTOCOL_VERSION,
    };
  }

  /**
   * Serves a session this process does not hold but the store knows, under the same id; with
   * `resurrect`, one no store knows, whose `record` is stored first.
   */
  #resume(id: string, record: SessionRecord, resurrect = false): Promise<ClientSession> {
    const held = this.#sessions.get(id);
    if (held) return Promise.resolve(held);
    let resuming = this.#resuming.get(id);
    if (!resuming) {
      resuming = (async () => {
        if (resurrect) await this.#opts.store.create(id, record);
        const session = this.#build(id, record);
        this.#sessions.set(id, session);
        this.#opts.metrics.sessions(this.#sessions.size);
        this.#opts.log(
          "info",
          resurrect
            ? "Session brought back from its id: the gateway restarted since it was issued."
            : "Session resumed from the session store.",
          { session: id },
        );
        return session;
      })().finally(() => this.#resuming.delete(id));
      this.#resuming.set(id, resuming);
    }
    return resuming;
  }

  /**
   * Session `id` with its SDK pair made (its handlers installed). With `restored`, the session
   * starts out initialised with the client's capabilities and info, as the replica that served the
   * initialize had them.
   */
  #build(id: string, restored?: SessionRecord): ClientSession {
    const session = new ClientSession(id, this.#source);
    if (restored) {
      session.restore({
        capabilities: (restored.clientCapabilities ?? {}) as ClientCapabilities,
        ...(restored.clientInfo ? { clientInfo: restored.clientInfo as Implementation } : {}),
      });
      session.protocolVersion = restored.protocolVersion;
    }
    // Made now, not on first use: the request that created or resumed the session is about to use it.
    void session.server;
    return session;
  }

  /** A new SDK server for `session`, connected to a new transport. */
  #open(session: ClientSession): SdkPair {
    const id = session.id;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      onsessioninitialized: (sid) => {
        this.#sessions.set(sid, session);
        this.#opts.metrics.sessions(this.#sessions.size);
      },
      onsessionclosed: (sid) => this.close(sid, true),
    });
    const server = new Server(BROKER_SERVER_INFO, {
      jsonSchemaValidator: sharedValidator ??= new AjvJsonSchemaValidator(),
      // A copy each: the SDK keeps the object it is given and may add to it.
      capabilities: structuredClone(this.#opts.federateAll ? FEDERATE_ALL_CAPABILITIES : BROKER_CAPABILITIES),
      ...(this.#opts.discoveryTools() ? { instructions: BROKER_INSTRUCTIONS } : {}),
    });
    server.onclose = () => void this.close(id);
    // Synchronous in effect: the transport's start() only marks it started.
    void server.connect(transport);
    return { server, transport };
  }
}
