/**
 * A `SessionStore` in Redis, so several gateway replicas (or one simulator across restarts) serve
 * the same client sessions. The layout follows upstream's broker: one hash per gateway session with
 * a field per server holding the backend session id, plus the session's own record:
 *
 * ```
 * <prefix>session:<gateway session id>   hash, TTL refreshed on every use
 *   @record        {"createdAt":..., "protocolVersion":..., "clientInfo":..., "clientCapabilities":...}
 *   <server name>  backend session id on that server (`namespace/name` -> id)
 * <prefix>signing-key                     string: the session signing key the replicas share
 * <prefix>relay                           pub/sub channel: a client's answer or cancel for a call
 *                                         another replica holds (JSON `RelayMessage`)
 * ```
 *
 * The prefix (default `kubectl-mcp:`) keeps the simulator's keys apart from a real gateway's when
 * both use one Redis. The npm `redis` client is loaded on first connect, so importing this module
 * costs nothing for a gateway on the memory store.
 *
 * @module
 */
import type { RedisClientType } from "redis";
import { type Deadline, watchDeadline } from "./deadlines.ts";
import { GatewayConfigError } from "./errors.ts";
import { type RelayMessage, type SessionRecord, type SessionStore, SessionStoreError } from "./store.ts";

/** The hash field holding the session's record; registration names (`ns/name`) never start with `@`. */
const RECORD_FIELD = "@record";

/**
 * A session's record with its idle lifetime restarted, as one command: every request asks it, and
 * one command is half the client's encoding, parsing and promises of two.
 */
const GET_RECORD_SCRIPT = `redis.call('EXPIRE', KEYS[1], ARGV[2])
return redis.call('HGET', KEYS[1], ARGV[1])`;

/** Sets a backend field only while the session exists, so a late write cannot revive a deleted one. */
const SET_BACKEND_SCRIPT = `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return 1
end
return 0`;

/**
 * Limitador's Redis check-and-update: KEYS are counters, ARGV their limits, then their windows in ms,
 * then the delta. Checks all first, so a limited request counts on none; returns {index + 1, pttl}
 * of the first exhausted counter, or {0, 0}.
 */
const COUNTERS_SCRIPT = `local n = #KEYS
local d = tonumber(ARGV[2 * n + 1])
for i = 1, n do
  local v = tonumber(redis.call('GET', KEYS[i]) or '0')
  if v + d > tonumber(ARGV[i]) then return {i, redis.call('PTTL', KEYS[i])} end
end
for i = 1, n do
  if redis.call('INCRBY', KEYS[i], d) == d then redis.call('PEXPIRE', KEYS[i], ARGV[n + i]) end
end
return {0, 0}`;

/** The signing key, after storing ARGV[1] as it when there is none: one atomic step for racing replicas. */
const SIGNING_KEY_SCRIPT = `local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`;

/** Options of {@link RedisSessionStore.connect}. */
export interface RedisSessionStoreOptions {
  /** Idle lifetime of a session in seconds, refreshed whenever the session is used; default 86400 (24 h). */
  ttlSeconds?: number;
  /** Prefix of every key; default `kubectl-mcp:`. */
  keyPrefix?: string;
  /** How long `connect` waits for the first connection, in ms; default 5000. */
  connectTimeoutMs?: number;
  /** How long one command may take before the request fails, in ms; default 5000. */
  commandTimeoutMs?: number;
  /** Told when the connection is lost (with why) and when it is back. */
  onStateChange?: (up: boolean, message: string) => void;
}

/** Checks a session store URL: `redis://` or `rediss://`, with a host. */
export function parseRedisUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new GatewayConfigError(`Session store URL ${JSON.stringify(url)} is not a URL.`, { cause });
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new GatewayConfigError(
      `Session store URL ${maskRedisUrl(url)} must start with redis:// or rediss://.`,
    );
  }
  if (!parsed.hostname) throw new GatewayConfigError(`Session store URL ${maskRedisUrl(url)} has no host.`);
  const db = parsed.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d+$/.test(db)) {
    throw new GatewayConfigError(
      `Session store URL ${maskRedisUrl(url)} has database ${JSON.stringify(db)}; expected a number.`,
    );
  }
  return parsed;
}

/** `redis://user:****@host:port/db` with the password masked and port and database spelled out. */
export function maskRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(invalid URL)";
  }
  const user = decodeURIComponent(parsed.username);
  const auth = parsed.password ? `${user}:****@` : user ? `${user}@` : "";
  const db = parsed.pathname.replace(/^\//, "") || "0";
  return `${parsed.protocol}//${auth}${parsed.hostname}:${parsed.port || "6379"}/${db}`;
}

/**
 * True when the URL's host only resolves inside a cluster: `*.svc`, `*.svc.cluster.local`,
 * `*.cluster.local`, or a bare service name (no dot, not localhost).
 */
export function isClusterInternalHost(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host.startsWith("[") || /^\d+\.\d+\.\d+\.\d+$/.test(host)) return false;
  if (host.endsWith(".svc") || host.endsWith(".cluster.local")) return true;
  return !host.includes(".") && host !== "localhost";
}

/** Glob-escapes a key prefix for `SCAN MATCH`. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\.$/, "");
}

/** A relay message from the channel, or undefined when it is not one. */
function parseRelayMessage(raw: string): RelayMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const m = value as Partial<RelayMessage> | null;
  if (
    typeof m !== "object" || m === null || (m.kind !== "response" && m.kind !== "cancel") ||
    typeof m.sessionId !== "string" || typeof m.from !== "string" ||
    typeof m.message !== "object" || m.message === null || Array.isArray(m.message)
  ) {
    return undefined;
  }
  return m as RelayMessage;
}

/** Sessions in Redis, shared by every gateway replica pointed at the same URL. */
export class RedisSessionStore implements SessionStore {
  /** Other processes read these sessions too. */
  readonly shared = true;
  /** The URL with the password masked. */
  readonly description: string;
  #client: RedisClientType;
  #prefix: string;
  #ttl: number;
  #commandTimeoutMs: number;
  #lastError?: string;
  #closed = false;
  #connected = false;
  /** Connections in subscriber mode (Redis allows no other commands on them). */
  #subscribers = new Set<RedisClientType>();

  private constructor(client: RedisClientType, description: string, opts: RedisSessionStoreOptions) {
    this.#client = client;
    this.description = description;
    this.#prefix = opts.keyPrefix ?? "kubectl-mcp:";
    this.#ttl = opts.ttlSeconds ?? 86_400;
    this.#commandTimeoutMs = opts.commandTimeoutMs ?? 5000;
  }

  /**
   * Connects to the Redis at `url` (`redis://[user:password@]host[:port][/db]`, or `rediss://` for
   * TLS). Throws `SessionStoreError` when it cannot connect within `connectTimeoutMs`; after that,
   * a lost connection makes each command fail at once with an error naming the store while the
   * client reconnects in the background.
   */
  static async connect(url: string, opts: RedisSessionStoreOptions = {}): Promise<RedisSessionStore> {
    parseRedisUrl(url);
    const description = maskRedisUrl(url);
    const { createClient } = await import("redis");
    const client = createClient({
      url,
      // Commands fail while disconnected instead of queueing until Redis returns: a request should
      // get an answer, not hang.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: opts.connectTimeoutMs ?? 5000,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000),
      },
    }) as unknown as RedisClientType;
    const store = new RedisSessionStore(client, description, opts);
    let up = false;
    client.on("error", (error: Error) => {
      store.#lastError = reason(error);
      if (!up) return;
      up = false;
      opts.onStateChange?.(false, `Session store ${description} is unreachable: ${store.#lastError}.`);
    });
    client.on("ready", () => {
      // The first connection is reported by connect() itself.
      if (!up && store.#connected) {
        opts.onStateChange?.(true, `Session store ${description} is reachable again.`);
      }
      up = true;
      store.#lastError = undefined;
    });
    const timeoutMs = opts.connectTimeoutMs ?? 5000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connecting = client.connect();
    connecting.catch(() => {});
    try {
      await Promise.race([
        connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no connection after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      client.destroy();
      const why = store.#lastError ?? reason(error);
      throw new SessionStoreError(`Session store ${description} is unreachable: ${why}.`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    store.#connected = true;
    return store;
  }

  #key(sessionId: string): string {
    return `${this.#prefix}session:${sessionId}`;
  }

  async #run<T>(command: (client: RedisClientType) => Promise<T>): Promise<T> {
    if (this.#closed) throw new SessionStoreError(`Session store ${this.description} is closed.`);
    // A deadline, not a timer per command: a timer and its clearing cost as much as the command's own work.
    let deadline: Deadline | undefined;
    try {
      const pending = command(this.#client);
      pending.catch(() => {});
      return await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          deadline = watchDeadline(
            this.#commandTimeoutMs,
            () => reject(new Error(`no answer in ${this.#commandTimeoutMs} ms`)),
          );
        }),
      ]);
    } catch (error) {
      const why = !this.#client.isReady && this.#lastError
        ? `${this.#lastError} (reconnecting)`
        : reason(error);
      throw new SessionStoreError(`Session store ${this.description} is unavailable: ${why}.`, {
        cause: error,
      });
    } finally {
      deadline?.clear();
    }
  }

  async create(sessionId: string, record: SessionRecord): Promise<void> {
    const key = this.#key(sessionId);
    await this.#run((c) =>
      c.multi().hSet(key, RECORD_FIELD, JSON.stringify(record)).expire(key, this.#ttl).exec()
    );
  }

  async get(sessionId: string): Promise<SessionRecord | undefined> {
    const key = this.#key(sessionId);
    const raw = await this.#run((c) =>
      c.eval(GET_RECORD_SCRIPT, { keys: [key], arguments: [RECORD_FIELD, String(this.#ttl)] })
    );
    if (raw === null || raw === undefined) return undefined;
    try {
      return JSON.parse(String(raw)) as SessionRecord;
    } catch (cause) {
      throw new SessionStoreError(
        `Session store ${this.description} holds an unreadable record for a session.`,
        { cause },
      );
    }
  }

  async touch(sessionId: string): Promise<boolean> {
    // EXPIRE alone: 1 when the key exists (a session's key always holds its record, see SET_BACKEND_SCRIPT).
    const renewed = await this.#run((c) => c.expire(this.#key(sessionId), this.#ttl));
    return Number(renewed) === 1;
  }

  async delete(sessionId: string): Promise<void> {
    await this.#run((c) => c.del(this.#key(sessionId)));
  }

  async getBackend(sessionId: string, server: string): Promise<string | undefined> {
    const value = await this.#run((c) => c.hGet(this.#key(sessionId), server));
    return value === null || value === undefined ? undefined : String(value);
  }

  async setBackend(sessionId: string, server: string, backendSessionId: string): Promise<void> {
    if (server === RECORD_FIELD) {
      throw new SessionStoreError(`Server name ${RECORD_FIELD} is reserved by the session store.`);
    }
    await this.#run((c) =>
      c.eval(SET_BACKEND_SCRIPT, {
        keys: [this.#key(sessionId)],
        arguments: [RECORD_FIELD, server, backendSessionId, String(this.#ttl)],
      })
    );
  }

  async deleteBackend(sessionId: string, server: string): Promise<void> {
    if (server === RECORD_FIELD) return;
    await this.#run((c) => c.hDel(this.#key(sessionId), server));
  }

  async listBackends(sessionId: string): Promise<Record<string, string>> {
    const all = await this.#run((c) => c.hGetAll(this.#key(sessionId)));
    const out: Record<string, string> = {};
    for (const [field, value] of Object.entries(all as Record<string, unknown>)) {
      if (field !== RECORD_FIELD) out[field] = String(value);
    }
    return out;
  }

  async count(): Promise<number> {
    const match = `${globEscape(this.#prefix)}session:*`;
    const seen = new Set<string>();
    let cursor = "0";
    do {
      const page = await this.#run((c) => c.scan(cursor, { MATCH: match, COUNT: 1000 }));
      cursor = String(page.cursor);
      for (const key of page.keys) seen.add(String(key));
    } while (cursor !== "0");
    return seen.size;
  }

  /**
   * The signing key the replicas share: written by the first replica to find none, read by the
   * others. When Redis has lost it (a restart without persistence, FLUSHALL), the first replica to
   * ask puts back `prefer` (its own key; a fresh random one without it), so the replicas converge on
   * one key again (see `SessionSigner.shared`). It has no TTL: sessions signed with it must stay
   * valid while they live.
   */
  async signingKey(prefer?: string): Promise<string> {
    const key = `${this.#prefix}signing-key`;
    const candidate = prefer ?? btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const value = await this.#run((c) => c.eval(SIGNING_KEY_SCRIPT, { keys: [key], arguments: [candidate] }));
    if (typeof value !== "string" || !value) {
      throw new SessionStoreError(`Session store ${this.description} returned no signing key.`);
    }
    return value;
  }

  /**
   * Limitador's check-and-update on fixed windows, atomically for every replica: when each counter
   * `keys[i]` (under this store's prefix) has room for `delta` below `limits[i]`, adds `delta` to all of
   * them (a new counter expires `windowsMs[i]` after its first hit) and returns index -1; otherwise
   * adds nothing and returns the index of the first exhausted counter and its time left in ms.
   * Throws `SessionStoreError` when Redis cannot answer: a rate limit never passes unchecked.
   */
  async checkAndUpdateCounters(
    keys: readonly string[],
    limits: readonly number[],
    windowsMs: readonly number[],
    delta = 1,
  ): Promise<{ limitedAt: number; ttlMs: number }> {
    const full = keys.map((k) => `${this.#prefix}rl:${k}`);
    const args = [...limits.map(String), ...windowsMs.map(String), String(delta)];
    const result = await this.#run((c) => c.eval(COUNTERS_SCRIPT, { keys: full, arguments: args }));
    const [at, ttl] = Array.isArray(result) ? result.map(Number) : [0, 0];
    return { limitedAt: at - 1, ttlMs: Math.max(0, ttl) };
  }

  /** The rate-limit counters alive now (`/status`): key as given to `checkAndUpdateCounters`, value, ms left. */
  async listCounters(max = 1000): Promise<{ key: string; value: number; ttlMs: number }[]> {
    const prefix = `${this.#prefix}rl:`;
    const out: { key: string; value: number; ttlMs: number }[] = [];
    let cursor = "0";
    do {
      const page = await this.#run((c) => c.scan(cursor, { MATCH: `${globEscape(prefix)}*`, COUNT: 1000 }));
      cursor = String(page.cursor);
      for (const key of page.keys) {
        if (out.length >= max) return out;
        const [value, ttl] = await this.#run((c) => Promise.all([c.get(String(key)), c.pTTL(String(key))]));
        if (value === null || value === undefined) continue;
        out.push({
          key: String(key).slice(prefix.length),
          value: Number(value),
          ttlMs: Math.max(0, Number(ttl)),
        });
      }
    } while (cursor !== "0");
    return out;
  }

  /** Publishes `message` on the relay channel to every replica on this Redis (same key prefix). */
  async publish(message: RelayMessage): Promise<void> {
    await this.#run((c) => c.publish(`${this.#prefix}relay`, JSON.stringify(message)));
  }

  /**
   * Listens on the relay channel over a connection of its own (a subscribed connection takes no
   * other commands). Messages that are not a `RelayMessage` are dropped: the channel is shared.
   */
  async subscribe(onMessage: (message: RelayMessage) => void): Promise<() => Promise<void>> {
    if (this.#closed) throw new SessionStoreError(`Session store ${this.description} is closed.`);
    const channel = `${this.#prefix}relay`;
    const subscriber = this.#client.duplicate() as RedisClientType;
    // The main connection reports outages; this one reconnects and resubscribes by itself.
    subscriber.on("error", () => {});
    try {
      await subscriber.connect();
      await subscriber.subscribe(channel, (raw: string) => {
        const message = parseRelayMessage(raw);
        if (message) onMessage(message);
      });
    } catch (cause) {
      subscriber.destroy();
      throw new SessionStoreError(
        `Session store ${this.description} refused a subscription to ${channel}: ${reason(cause)}.`,
        { cause },
      );
    }
    this.#subscribers.add(subscriber);
    return () => {
      if (this.#subscribers.delete(subscriber)) subscriber.destroy();
      return Promise.resolve();
    };
  }

  /** Closes the connections; the sessions stay in Redis. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const subscriber of this.#subscribers) subscriber.destroy();
    this.#subscribers.clear();
    this.#client.destroy();
    return Promise.resolve();
  }

  /** Closes with `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
