/**
 * Where the gateway keeps session state: gateway session -> server -> backend session id. Async so a
 * Redis hash (one per gateway session, field per server) can replace the in-memory map and let any
 * replica serve any request.
 *
 * @module
 */

import { GatewayError } from "./errors.ts";

/** What the gateway remembers about one client session: enough to serve it from another replica. */
export interface SessionRecord {
  /** Milliseconds since the epoch when the client initialised. */
  createdAt: number;
  /** Protocol version negotiated with the client. */
  protocolVersion?: string;
  /** The client's `clientInfo` from its initialize request. */
  clientInfo?: { name: string; version: string; [key: string]: unknown };
  /** The client's capabilities from its initialize request (elicitation, sampling, roots...). */
  clientCapabilities?: Record<string, unknown>;
}

/** The session store could not be reached or failed a command; the message names the store. */
export class SessionStoreError extends GatewayError {
  override readonly code: string = "ERR_SESSION_STORE";
}

/**
 * A client's message for a pass-through call that another replica may hold: a load balancer can
 * send the answer to a backend's request, or a `notifications/cancelled`, to any replica, while the
 * call's stream (and the map of its ids) lives in the one that forwarded it.
 */
export interface RelayMessage {
  /** `response`: the client's answer to a backend request; `cancel`: its `notifications/cancelled`. */
  kind: "response" | "cancel";
  /** The gateway session it came on. */
  sessionId: string;
  /** The client's JSON-RPC message as it came. */
  message: Record<string, unknown>;
  /** The replica that published it (replicas ignore their own). */
  from: string;
}

/** Session state shared by every replica of a gateway. */
export interface SessionStore {
  /**
   * True when other processes read the same sessions (Redis): closing a gateway then leaves its
   * sessions and their backend sessions in place for the other replicas, or for its restart.
   */
  readonly shared?: boolean;
  /** The store for humans: `memory`, or its URL with the password masked. */
  readonly description?: string;
  /**
   * A session signing key every replica on this store agrees on. When the store holds none (the
   * first replica, or the store lost it) it first stores `prefer`, or a fresh random key without
   * one, atomically. The gateway uses it (through `SessionSigner.shared`) when it is given no
   * `signingKey`.
   */
  signingKey?(prefer?: string): Promise<string>;
  /** Records a new gateway session. */
  create(sessionId: string, record: SessionRecord): Promise<void>;
  /** The record of a session, or undefined when it never existed or was deleted. */
  get(sessionId: string): Promise<SessionRecord | undefined>;
  /**
   * Whether a session lives, renewing its expiry as {@linkcode get} does: for a session whose record
   * the caller holds already (cheaper than reading it back on every request).
   */
  touch(sessionId: string): Promise<boolean>;
  /** Forgets a session and every backend mapping under it. */
  delete(sessionId: string): Promise<void>;
  /** Backend session id this gateway session holds on `server`. */
  getBackend(sessionId: string, server: string): Promise<string | undefined>;
  /** Remembers the backend session id for `server`. */
  setBackend(sessionId: string, server: string, backendSessionId: string): Promise<void>;
  /** Drops the mapping for `server` (the backend answered 404, or the server left the config). */
  deleteBackend(sessionId: string, server: string): Promise<void>;
  /** Every server -> backend session id mapping of a session. */
  listBackends(sessionId: string): Promise<Record<string, string>>;
  /** Number of live gateway sessions. */
  count(): Promise<number>;
  /** Sends `message` to every replica on this store. Absent on stores only one process uses. */
  publish?(message: RelayMessage): Promise<void>;
  /**
   * Calls `onMessage` with every message published on this store (its own too) until the returned
   * function is called or the store closes. Absent on stores only one process uses.
   */
  subscribe?(onMessage: (message: RelayMessage) => void): Promise<() => Promise<void>>;
}

/** A `SessionStore` held in this process's memory: the single-replica default. */
export class MemorySessionStore implements SessionStore {
  /** Always `memory`. */
  readonly description = "memory";
  /** Per session its record and, once it has one, its backend session ids by server. */
  #sessions = new Map<string, { record: SessionRecord; backends?: Map<string, string> }>();

  create(sessionId: string, record: SessionRecord): Promise<void> {
    this.#sessions.set(sessionId, { record: { ...record } });
    return Promise.resolve();
  }
  get(sessionId: string): Promise<SessionRecord | undefined> {
    const s = this.#sessions.get(sessionId);
    return Promise.resolve(s ? { ...s.record } : undefined);
  }
  touch(sessionId: string): Promise<boolean> {
    return Promise.resolve(this.#sessions.has(sessionId));
  }
  delete(sessionId: string): Promise<void> {
    this.#sessions.delete(sessionId);
    return Promise.resolve();
  }
  getBackend(sessionId: string, server: string): Promise<string | undefined> {
    return Promise.resolve(this.#sessions.get(sessionId)?.backends?.get(server));
  }
  setBackend(sessionId: string, server: string, backendSessionId: string): Promise<void> {
    const s = this.#sessions.get(sessionId);
    if (s) (s.backends ??= new Map()).set(server, backendSessionId);
    return Promise.resolve();
  }
  deleteBackend(sessionId: string, server: string): Promise<void> {
    this.#sessions.get(sessionId)?.backends?.delete(server);
    return Promise.resolve();
  }
  listBackends(sessionId: string): Promise<Record<string, string>> {
    return Promise.resolve(Object.fromEntries(this.#sessions.get(sessionId)?.backends ?? []));
  }
  count(): Promise<number> {
    return Promise.resolve(this.#sessions.size);
  }
}
