/**
 * Where the gateway keeps session state: gateway session -> server -> backend session id. Async so a
 * Redis hash (one per gateway session, field per server) can replace the in-memory map and let any
 * replica serve any request.
 *
 * @module
 */

/** What the gateway remembers about one client session. */
export interface SessionRecord {
  /** Milliseconds since the epoch when the client initialised. */
  createdAt: number;
  /** Protocol version negotiated with the client. */
  protocolVersion?: string;
}

/** Session state shared by every replica of a gateway. */
export interface SessionStore {
  /** Records a new gateway session. */
  create(sessionId: string, record: SessionRecord): Promise<void>;
  /** The record of a session, or undefined when it never existed or was deleted. */
  get(sessionId: string): Promise<SessionRecord | undefined>;
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
}

/** A `SessionStore` held in this process's memory: the single-replica default. */
export class MemorySessionStore implements SessionStore {
  #sessions = new Map<string, { record: SessionRecord; backends: Map<string, string> }>();

  create(sessionId: string, record: SessionRecord): Promise<void> {
    this.#sessions.set(sessionId, { record: { ...record }, backends: new Map() });
    return Promise.resolve();
  }
  get(sessionId: string): Promise<SessionRecord | undefined> {
    const s = this.#sessions.get(sessionId);
    return Promise.resolve(s ? { ...s.record } : undefined);
  }
  delete(sessionId: string): Promise<void> {
    this.#sessions.delete(sessionId);
    return Promise.resolve();
  }
  getBackend(sessionId: string, server: string): Promise<string | undefined> {
    return Promise.resolve(this.#sessions.get(sessionId)?.backends.get(server));
  }
  setBackend(sessionId: string, server: string, backendSessionId: string): Promise<void> {
    this.#sessions.get(sessionId)?.backends.set(server, backendSessionId);
    return Promise.resolve();
  }
  deleteBackend(sessionId: string, server: string): Promise<void> {
    this.#sessions.get(sessionId)?.backends.delete(server);
    return Promise.resolve();
  }
  listBackends(sessionId: string): Promise<Record<string, string>> {
    return Promise.resolve(Object.fromEntries(this.#sessions.get(sessionId)?.backends ?? []));
  }
  count(): Promise<number> {
    return Promise.resolve(this.#sessions.size);
  }
}
