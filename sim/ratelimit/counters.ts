/**
 * Where rate-limit counters live, as Limitador keeps them: fixed windows that start at a counter's
 * first hit and expire a window later; a request is checked against every counter it touches and
 * counts on all of them only when none is exhausted (Limitador's `check_rate_limited_and_update`).
 *
 * {@linkcode MemoryCounters} keeps them in this process; {@linkcode RedisCounters} keeps them in the
 * Redis of the gateway's session store, so every replica on that Redis shares them (Limitador's Redis
 * storage), checked and updated in one script. A Redis that cannot answer throws `SessionStoreError`,
 * which the gateway answers with the same 503 as the session store: never an unlimited pass.
 *
 * @module
 */
import type { SessionStore } from "../store.ts";
import type { CounterState } from "./types.ts";

export type { CounterState } from "./types.ts";
import type { RedisSessionStore } from "../store_redis.ts";

/** One counter a request touches. */
export interface CounterHit {
  /** The counter's identity: policy, limit, rate and the counter values (see `limiter.ts`). */
  key: string;
  /** Hits allowed per window. */
  limit: number;
  /** The window in milliseconds. */
  windowMs: number;
}

/** What the storage decided for one request. */
export interface CounterCheck {
  /** Index in the hits of the first exhausted counter; -1 when every counter had room (and counted). */
  limitedAt: number;
  /** Milliseconds until the exhausted counter's window ends (0 when not limited). */
  ttlMs: number;
}

/** Rate-limit counters. */
export interface CounterStorage {
  /** `memory`, or the Redis URL with the password masked. */
  readonly description: string;
  /** Checks `hits` and, when none is exhausted, adds `delta` (default 1) to each. */
  checkAndUpdate(hits: readonly CounterHit[], delta?: number): Promise<CounterCheck> | CounterCheck;
  /** The live counters (at most `max`). */
  list(max?: number): Promise<CounterState[]> | CounterState[];
}

/** Counters in this process. */
export class MemoryCounters implements CounterStorage {
  readonly description = "memory";
  #counters = new Map<string, { value: number; expiresAt: number }>();
  #now: () => number;

  /** Counters on `opts.now` (default `Date.now`; tests pass a clock). */
  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
  }

  checkAndUpdate(hits: readonly CounterHit[], delta = 1): CounterCheck {
    const now = this.#now();
    for (let i = 0; i < hits.length; i++) {
      const c = this.#live(hits[i].key, now);
      if ((c?.value ?? 0) + delta > hits[i].limit) return { limitedAt: i, ttlMs: c ? c.expiresAt - now : 0 };
    }
    for (const hit of hits) {
      const c = this.#live(hit.key, now);
      if (c) c.value += delta;
      else this.#counters.set(hit.key, { value: delta, expiresAt: now + hit.windowMs });
    }
    if (this.#counters.size > 100_000) this.#sweep(now);
    return { limitedAt: -1, ttlMs: 0 };
  }

  list(max = 1000): CounterState[] {
    const now = this.#now();
    this.#sweep(now);
    const out: CounterState[] = [];
    for (const [key, c] of this.#counters) {
      if (out.length >= max) break;
      out.push({ key, value: c.value, ttlMs: c.expiresAt - now });
    }
    return out;
  }

  #live(key: string, now: number) {
    const c = this.#counters.get(key);
    if (c && c.expiresAt <= now) {
      this.#counters.delete(key);
      return undefined;
    }
    return c;
  }

  #sweep(now: number): void {
    for (const [key, c] of this.#counters) if (c.expiresAt <= now) this.#counters.delete(key);
  }
}

/** Counters in the Redis of the session store, shared by every replica on it. */
export class RedisCounters implements CounterStorage {
  readonly description: string;
  #store: RedisSessionStore;

  /** Counters over `store`'s connection and key prefix. */
  constructor(store: RedisSessionStore) {
    this.#store = store;
    this.description = store.description;
  }

  checkAndUpdate(hits: readonly CounterHit[], delta = 1): Promise<CounterCheck> {
    return this.#store.checkAndUpdateCounters(
      hits.map((h) => h.key),
      hits.map((h) => h.limit),
      hits.map((h) => h.windowMs),
      delta,
    );
  }

  list(max?: number): Promise<CounterState[]> {
    return this.#store.listCounters(max);
  }
}

/**
 * The counters that go with the gateway's session store: in its Redis when it is one (so replicas
 * share them, as Limitador's Redis storage), else in memory.
 */
export function counterStorageFor(store: SessionStore | undefined): CounterStorage {
  if (store && "checkAndUpdateCounters" in store && "listCounters" in store) {
    return new RedisCounters(store as RedisSessionStore);
  }
  return new MemoryCounters();
}
