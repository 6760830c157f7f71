/**
 * The gateway's options and their defaults, shared by every stage of the request path.
 *
 * @module
 */
import type { RequestPolicy } from "./policy.ts";
import type { SessionStore } from "./store.ts";
import type { RateLimiter } from "./ratelimit/types.ts";

/** Receives the gateway's diagnostics. */
export type Logger = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/** Options of a gateway. */
export interface GatewayOptions {
  /**
   * HMAC key for session ids; share it between replicas. When omitted: the store's shared key when
   * it has one (Redis), else random.
   */
  signingKey?: string | Uint8Array;
  /** Where diagnostics go; silent when omitted. */
  logger?: Logger;
  /** Decides whether each request may proceed; allow-all when omitted. */
  policy?: RequestPolicy;
  /**
   * RateLimitPolicies, evaluated after `policy` (Kuadrant's wasm-shim runs auth first) with its
   * identity; a limited request gets 429. Counted in `/metrics`, its counters shown in `/status`.
   */
  rateLimit?: RateLimiter;
  /** Session state; in-memory when omitted. */
  store?: SessionStore;
  /** Timeout of one upstream call (reset by progress), default 60000. */
  upstreamTimeoutMs?: number;
  /**
   * Route `tools/call` as a streaming pass-through to the backend (ids, tool name, session and
   * credential rewritten) instead of through the SDK server and client; default true.
   */
  toolCallPassthrough?: boolean;
  /**
   * A session with no request and no open stream for this long is closed (its backend sessions too,
   * unless the store is shared: then other replicas may still serve it and the store's TTL ends it);
   * default 86400000 (24 h, the Redis store's TTL), 0 never.
   */
  sessionIdleTimeoutMs?: number;
  /**
   * Sessions this process holds at most; an initialize past it gets HTTP 503 instead of a session.
   * Default `DEFAULT_MAX_SESSIONS`.
   */
  maxSessions?: number;
  /**
   * Host names (with or without a port) the gateway answers besides loopback ones: its public host.
   * A request whose `Host` is neither gets 403 (DNS rebinding). The extension's public host is added.
   */
  publicHosts?: string[];
  /**
   * Serve what the simulator can do beyond the cluster's broker v0.9.0: reversible `mcp+<server>:`
   * URIs for every resource, resource templates, completions, logging and subscriptions. Default
   * false: the cluster's behaviour (README, "Differences from the cluster").
   */
  federateAll?: boolean;
  /**
   * Open each backend's standalone GET stream, which carries its `list_changed` notifications
   * (default true). A one-shot listing (`tools` without `--watch`) ends before any could matter.
   */
  followBackends?: boolean;
  /**
   * List only the backends' tools, not their prompts or resources (default false). For a one-shot
   * replay that answers a tool listing or a tool call and nothing else: each list is one more round
   * trip to every backend, through a port-forward when the backends are in a cluster.
   */
  toolsOnly?: boolean;
}

/** Default timeout of one upstream call, in milliseconds. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 60_000;

/** Default idle time after which a session is closed: 24 h, the Redis store's TTL. */
export const DEFAULT_SESSION_IDLE_TIMEOUT_MS = 86_400_000;

/** Default cap on the sessions one gateway process holds. */
export const DEFAULT_MAX_SESSIONS = 100_000;

/** The header a client selects a virtual server with. */
export const VIRTUAL_SERVER_HEADER = "x-mcp-virtualserver";
