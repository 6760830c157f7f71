/**
 * The backend side of client sessions: each client session opens its own session on a server the
 * first time it needs one (resumed from the store when another replica opened it), relays the
 * server's requests and notifications to the client, and ends it with the client's session.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  type ClientCapabilities,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ResultSchema,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { ClientSession } from "./client_session.ts";
import { type ServerConfig, serverEndpoint } from "./config.ts";
import { UpstreamError } from "./errors.ts";
import { encodeResourceUri, servedTool, validateTool } from "./federation.ts";
import type { Logger } from "./options.ts";
import type { ServerSet } from "./server_set.ts";
import type { SessionStore } from "./store.ts";
import { connectUpstream, listTools, message, type UpstreamConnection } from "./upstream.ts";

/** Options of a `BackendPool`. */
export interface BackendPoolOptions {
  /** The configured servers. */
  servers: ServerSet;
  /** Where backend session ids are remembered for other replicas. */
  store: SessionStore;
  /** Timeout of opening a backend session and of listing a client's own tools. */
  timeoutMs?: number;
  /** Diagnostics. */
  log: Logger;
  /**
   * The user's own token for a `tokenURLElicitation` server in a client session, when one is
   * cached (URL elicitation): it replaces the registration's credential on that backend session.
   */
  userToken?(sessionId: string, server: ServerConfig): string | undefined;
  /** Forgets the user's token for `server` in a client session (the server refused it). */
  forgetUserToken?(sessionId: string, server: string): void;
}

/** Opens, remembers and ends the backend sessions of client sessions. */
export class BackendPool {
  #opts: BackendPoolOptions;

  /** A pool over `opts.servers`. */
  constructor(opts: BackendPoolOptions) {
    this.#opts = opts;
  }

  /** The session's backend session on `server`, opened on first use. */
  get(session: ClientSession, server: string): Promise<UpstreamConnection> {
    const existing = session.upstreams.get(server);
    if (existing) return existing;
    const cfg = this.#opts.servers.upstream(server)?.config;
    if (!cfg) return Promise.reject(new UpstreamError(server, `Server ${server} is not configured.`));
    const p = this.#open(session, cfg);
    session.upstreams.set(server, p);
    p.catch(() => {
      if (session.upstreams.get(server) === p) session.upstreams.delete(server);
    });
    return p;
  }

  /** Drops the session's backend session on `server` (it expired or failed); the next use opens one. */
  async forget(session: ClientSession, server: string): Promise<void> {
    const p = session.upstreams.get(server);
    session.upstreams.delete(server);
    await this.#opts.store.deleteBackend(session.id, server);
    const c = await p?.catch(() => undefined);
    await c?.client.close().catch(() => {});
  }

  /**
   * The server answered HTTP 401 to a session that sent it the user's own token (URL elicitation):
   * the token is forgotten so the next call asks for a new one, as upstream's router does. False
   * when the session sent no user token there (the registration's credential was refused).
   */
  userTokenRefused(session: ClientSession, server: string): boolean {
    const cfg = this.#opts.servers.upstream(server)?.config;
    if (!cfg?.tokenURLElicitation || this.#opts.userToken?.(session.id, cfg) === undefined) return false;
    this.#opts.forgetUserToken?.(session.id, server);
    return true;
  }

  /** Closes every given session's backend session on `server` (it left or changed). */
  async dropServer(sessions: Iterable<ClientSession>, server: string): Promise<void> {
    await Promise.all([...sessions].map(async (s) => {
      const p = s.upstreams.get(server);
      s.upstreams.delete(server);
      await this.#opts.store.deleteBackend(s.id, server);
      const conn = await p?.catch(() => undefined);
      if (conn) await closeConnection(conn);
    }));
  }

  /**
   * Closes the session's backend sessions in this process. With `end` they end on the servers too,
   * and so do those another replica opened (`mapped`, from the store) and this one never resumed.
   */
  async closeAll(session: ClientSession, end: boolean, mapped: Record<string, string> = {}): Promise<void> {
    const conns = [...session.upstreams.entries()];
    session.upstreams.clear();
    await Promise.all([
      ...conns.map(async ([, p]) => {
        const c = await p.catch(() => undefined);
        if (!c) return;
        if (end) await closeConnection(c);
        else await c.client.close().catch(() => {});
      }),
      ...Object.entries(mapped).filter(([server]) => !conns.some(([name]) => name === server)).map(
        ([server, backendId]) => this.#terminate(server, backendId),
      ),
    ]);
  }

  /** This client's tools of every ready userSpecificList server; a server that fails is left out. */
  async userSpecificTools(session: ClientSession): Promise<Tool[]> {
    const set = this.#opts.servers;
    const servers = set.config.servers.filter((s) =>
      s.enabled && s.userSpecificList && set.upstream(s.name)?.state === "ready"
    );
    if (!servers.length) return [];
    const lists = await Promise.all(servers.map(async (cfg) => {
      try {
        return await this.#listUserTools(session, cfg);
      } catch (err) {
        this.#opts.log("warn", `Server ${cfg.name} could not list this client's tools: ${message(err)}`, {
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
    const timeoutMs = this.#opts.timeoutMs ?? 30_000;
    const list = async () => listTools((await this.get(session, cfg.name)).client, timeoutMs);
    let tools: Tool[];
    try {
      tools = await list();
    } catch {
      await this.forget(session, cfg.name);
      tools = await list();
    }
    const valid = tools.filter((t) => validateTool(t).length === 0);
    const invalid = tools.length - valid.length;
    if (invalid && this.#opts.servers.config.extension.invalidToolPolicy === "RejectServer") {
      throw new UpstreamError(
        cfg.name,
        `Server ${cfg.name} listed ${invalid} tool(s) with an invalid schema for this client; rejected (RejectServer).`,
      );
    }
    const federateAll = this.#opts.servers.federateAll;
    return valid.map((t) => servedTool(t, cfg.prefix + t.name, federateAll));
  }

  /** Ends a backend session by id alone (HTTP DELETE), as its own client would. */
  async #terminate(server: string, backendSessionId: string): Promise<void> {
    const cfg = this.#opts.servers.upstream(server)?.config;
    if (!cfg) return;
    const headers: Record<string, string> = { "mcp-session-id": backendSessionId };
    if (cfg.credential) headers.authorization = cfg.credential;
    try {
      const res = await fetch(serverEndpoint(cfg), {
        method: "DELETE",
        headers,
        redirect: "manual",
        signal: AbortSignal.timeout(5000),
      });
      await res.body?.cancel();
    } catch {
      // The backend forgets idle sessions by itself.
    }
  }

  async #open(session: ClientSession, cfg: ServerConfig): Promise<UpstreamConnection> {
    const { store, timeoutMs } = this.#opts;
    const caps = session.capabilities;
    const capabilities: ClientCapabilities = {};
    if (caps.elicitation) capabilities.elicitation = caps.elicitation;
    if (caps.sampling) capabilities.sampling = caps.sampling;
    if (caps.roots) capabilities.roots = caps.roots;
    const resume = await store.getBackend(session.id, cfg.name);
    // A userSpecificList server sees the client as the client is, on each request; others get the
    // registration's credential only.
    // A tokenURLElicitation server gets the user's token as it is cached at each request.
    const userToken = this.#opts.userToken;
    const credential = (): Record<string, string> => {
      const token = userToken?.(session.id, cfg) ?? cfg.credential;
      return token ? { authorization: token } : {};
    };
    const headers = cfg.userSpecificList
      ? () => session.userHeaders
      : (cfg.tokenURLElicitation && userToken ? credential : undefined);
    const connect = {
      capabilities,
      timeoutMs,
      headers,
      maxBytes: this.#opts.servers.config.extension.maxBodyBytes,
      log: (level: "warn", msg: string) =>
        this.#opts.log(level, msg, { session: session.id, server: cfg.name }),
    };
    let conn: UpstreamConnection;
    try {
      conn = await connectUpstream(cfg, { ...connect, sessionId: resume });
    } catch (err) {
      if (!resume) throw err;
      await store.deleteBackend(session.id, cfg.name);
      conn = await connectUpstream(cfg, connect);
    }
    this.#relay(session, cfg, conn, capabilities);
    if (session.logLevel && conn.client.getServerCapabilities()?.logging) {
      await conn.client.setLoggingLevel(session.logLevel).catch(() => {});
    }
    if (conn.transport.sessionId && conn.transport.sessionId !== resume) {
      try {
        await store.setBackend(session.id, cfg.name, conn.transport.sessionId);
      } catch (err) {
        // Unrecorded, the backend session could never be resumed or ended by another replica.
        await closeConnection(conn);
        throw err;
      }
    }
    if (session.closed) {
      await closeConnection(conn);
      throw new UpstreamError(cfg.name, "The client session closed.");
    }
    return conn;
  }

  /** Sends the backend's requests and notifications to the client, on the calling request's stream when one is open. */
  #relay(
    session: ClientSession,
    cfg: ServerConfig,
    { client }: UpstreamConnection,
    caps: ClientCapabilities,
  ): void {
    const current = () => {
      const stack = session.inflight.get(cfg.name);
      return stack?.[stack.length - 1];
    };
    const toClient = async (req: { method: string; params?: Record<string, unknown> }) => {
      const ctx = current();
      // Send on the calling request's stream when one is open, so the client links it to its call.
      const r = ctx
        ? await ctx.sendRequest(req as ServerRequest, ResultSchema)
        : await session.server.request(req as ServerRequest, ResultSchema);
      // deno-lint-ignore no-explicit-any
      return r as any;
    };
    if (caps.elicitation) client.setRequestHandler(ElicitRequestSchema, toClient);
    if (caps.sampling) client.setRequestHandler(CreateMessageRequestSchema, toClient);
    if (caps.roots) client.setRequestHandler(ListRootsRequestSchema, toClient);
    client.fallbackNotificationHandler = async (n) => {
      if (n.method.endsWith("/list_changed")) {
        void this.#opts.servers.upstream(cfg.name)?.refresh();
        return;
      }
      if (n.method !== "notifications/message" && n.method !== "notifications/resources/updated") return;
      let out = n as ServerNotification;
      const key = this.#opts.servers.key(cfg.name);
      if (
        n.method === "notifications/resources/updated" && typeof n.params?.uri === "string" && cfg.prefix &&
        key
      ) {
        out = {
          ...n,
          params: { ...n.params, uri: encodeResourceUri(key, n.params.uri) },
        } as ServerNotification;
      }
      const ctx = current();
      await (ctx ? ctx.sendNotification(out) : session.server.notification(out)).catch(() => {});
    };
  }
}

/** Ends a backend session on its server and closes our client of it. */
export async function closeConnection(conn: UpstreamConnection): Promise<void> {
  await conn.transport.terminateSession().catch(() => {});
  await conn.client.close().catch(() => {});
}
