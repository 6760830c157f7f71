/**
 * The shapes the gateway's options, `/status` and the rate-limit gate share; this module imports
 * nothing, so `sim/options.ts` and `sim/status.ts` can name them without importing the gate.
 *
 * @module
 */

/** A live counter, for `/status`. */
export interface CounterState {
  /** The counter's key. */
  key: string;
  /** Hits in the current window. */
  value: number;
  /** Milliseconds until the window ends. */
  ttlMs: number;
}

/** One rate of a limit: at most `limit` hits per fixed window of `windowMs`. */
export interface Rate {
  /** Hits allowed per window. */
  limit: number;
  /** The window as written (`10s`, `1m`). */
  window: string;
  /** The window Limitador counts in, in milliseconds: whole seconds (see `limitadorWindowMs`). */
  windowMs: number;
}

/** The limit and rate that answered a limited request. */
export interface LimitedBy {
  /** `ns/name` of the RateLimitPolicy. */
  policy: string;
  /** The limit's name. */
  limit: string;
  /** The rate exhausted. */
  rate: Rate;
  /** Milliseconds until its window ends. */
  retryAfterMs: number;
}

/** The limits at each place: `broker`, `well-known`, `status`, `tokens`, `server ns/name`. */
export type LimitsByPlace = Record<string, { policy: string; limit: string; rates: string[] }[]>;

/** The rate-limit section of `/status`. */
export interface RateLimitStatus {
  /** `memory` or the Redis URL (password masked). */
  storage: string;
  /** The limits at each place (see `RateLimitSummary.where` in gate.ts). */
  limits: LimitsByPlace;
  /** Policies or limits not applied. */
  problems: string[];
  /** Live counters: `policy#limit#rate[#values]`, hits in the window, ms left. */
  counters: CounterState[];
  /** Limited requests so far in this process, by policy and limit. */
  limited: { policy: string; limit: string; count: number }[];
}

/** What the gateway needs of a rate-limit gate (`RateLimitGate` in gate.ts). */
export interface RateLimiter {
  /** Evaluates one JSON-RPC message (a `RequestPolicy`'s `evaluate`). */
  evaluate: import("../policy.ts").RequestPolicy["evaluate"];
  /** Evaluates a request without a JSON-RPC message. */
  evaluateRequest?: import("../policy.ts").RequestPolicy["evaluateRequest"];
  /** Told of each limited request; the gateway sets it to count in `/metrics`. */
  onLimited?: (by: LimitedBy) => void;
  /** The `/status` section. */
  status(): Promise<RateLimitStatus>;
}
