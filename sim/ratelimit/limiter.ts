/**
 * Limitador's semantics over compiled limits: every limit whose `when` predicates all hold applies;
 * each of its rates is a fixed-window counter qualified by the values of its `counters` expressions;
 * a limit whose counter expression cannot be evaluated (a missing key, `auth.identity` without an
 * identity) does not count the request, as Limitador skips a limit whose variables are missing. The
 * counters are checked together and the first exhausted one answers; a limited request counts on none.
 *
 * @module
 */
import { CREDENTIAL_HEADER } from "../redact.ts";
import { compileCel, evaluateExpression, evaluatePredicate } from "../auth/cel.ts";
import type { AuthorizationJson, CelProgram } from "../auth/types.ts";
import type { CounterCheck, CounterHit, CounterStorage } from "./counters.ts";
import type { LimitSpec, Rate } from "./rate_limit_policy.ts";
import type { LimitedBy } from "./types.ts";

export type { LimitedBy } from "./types.ts";

/**
 * The roots Kuadrant's wasm-shim evaluates `when` and `counters` over (its host properties and the
 * AuthPolicy's `auth`). The simulator sets `request`, `source`, `destination` and `auth`; CEL on another
 * root compiles, and fails at evaluation as an attribute the data plane lacks would: the predicate does
 * not hold, the counter does not count.
 */
export const WASM_SHIM_CEL_ROOTS: readonly string[] = [
  "request",
  "response",
  "source",
  "destination",
  "connection",
  "ratelimit",
  "filter_state",
  "metadata",
  "auth",
];

/** A limit with its CEL compiled once. */
export interface CompiledLimit {
  /** The limit as resolved. */
  spec: LimitSpec;
  /** Its `when` programs. */
  when: CelProgram[];
  /** Its `counters` programs. */
  counters: CelProgram[];
  /**
   * Per counter: whether it may read a credential (`request.headers['authorization']`,
   * `auth.identity.data.api_key`): its value is keyed by a hash, so no credential reaches `/status`,
   * Redis or a log.
   */
  secret: boolean[];
}

/** What the limiter decided for one request. */
export interface LimitOutcome {
  /** Set when a counter was exhausted (the request gets 429). */
  limited?: LimitedBy;
  /** Limits that applied (their `when` held and their counters evaluated), `policy#limit`. */
  applied: string[];
}

/** Compiles `specs`; throws `CelCompileError` naming the expression when one does not compile. */
export function compileLimits(specs: readonly LimitSpec[]): CompiledLimit[] {
  return specs.map((spec) => ({
    spec,
    when: spec.when.map((p) => compileCel(p, { roots: WASM_SHIM_CEL_ROOTS })),
    counters: spec.counters.map((c) => compileCel(c, { kind: "expression", roots: WASM_SHIM_CEL_ROOTS })),
    // `auth` is a root, not a credential: what follows it decides.
    secret: spec.counters.map((c) => CREDENTIAL_HEADER.test(c.replace(/\bauth\./g, ""))),
  }));
}

/**
 * The hashes of the credential-like counter values seen lately: a client sends the same one on every
 * call, and hashing it each time was an eighth of a limit's cost. Bounded: cleared when full.
 */
const hashed = new Map<string, string>();
const HASHED_MAX = 4096;

/**
 * `createHash` of `node:crypto`, loaded on first use: `kubectl mcp validate` imports this module for
 * RateLimitPolicies, and a static import made every validate run load `node:crypto` (about 50 ms).
 */
let createHash: typeof import("node:crypto").createHash | undefined;

/** The key a credential-like counter value is counted under, so no credential reaches `/status` or Redis. */
function hashedValue(text: string): string {
  let key = hashed.get(text);
  if (key === undefined) {
    // deno-lint-ignore no-process-global
    createHash ??= (process.getBuiltinModule("node:crypto") as typeof import("node:crypto")).createHash;
    key = `sha256:${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
    if (hashed.size >= HASHED_MAX) hashed.clear();
    hashed.set(text, key);
  }
  return key;
}

/** A counter value as Limitador keys it: strings as they are, anything else as JSON. */
const counterText = (v: unknown): string => typeof v === "string" ? v : JSON.stringify(v);

/** The counters `limits` touch for `json`, with the limit each came from. */
export function countersFor(
  limits: readonly CompiledLimit[],
  json: AuthorizationJson,
): { hits: CounterHit[]; owners: { limit: CompiledLimit; rate: Rate }[]; applied: string[] } {
  const hits: CounterHit[] = [];
  const owners: { limit: CompiledLimit; rate: Rate }[] = [];
  const applied: string[] = [];
  next: for (const limit of limits) {
    for (const p of limit.when) {
      try {
        if (!evaluatePredicate(p, json)) continue next;
      } catch {
        // A predicate that cannot be evaluated does not select the request.
        continue next;
      }
    }
    const values: string[] = [];
    for (const [i, c] of limit.counters.entries()) {
      try {
        const text = counterText(evaluateExpression(c, json));
        values.push(
          limit.secret[i] ? hashedValue(text) : text,
        );
      } catch {
        continue next;
      }
    }
    applied.push(`${limit.spec.policy}#${limit.spec.name}`);
    const base = `${limit.spec.policy}#${limit.spec.name}`;
    const qualifier = values.length ? `#${JSON.stringify(values)}` : "";
    for (const rate of limit.spec.rates) {
      hits.push({
        key: `${base}#${rate.limit}/${rate.window}${qualifier}`,
        limit: rate.limit,
        windowMs: rate.windowMs,
      });
      owners.push({ limit, rate });
    }
  }
  return { hits, owners, applied };
}

/**
 * Checks and counts one request against `limits` in `storage`. Storage errors propagate (never a
 * pass). Synchronous when the storage answers at once (memory), so a request the limits let through
 * costs the gateway no extra turn of the event loop.
 */
export function checkLimits(
  limits: readonly CompiledLimit[],
  json: AuthorizationJson,
  storage: CounterStorage,
): LimitOutcome | Promise<LimitOutcome> {
  const { hits, owners, applied } = countersFor(limits, json);
  if (!hits.length) return { applied };
  const outcome = (check: CounterCheck): LimitOutcome => {
    if (check.limitedAt < 0) return { applied };
    const { limit, rate } = owners[check.limitedAt];
    return {
      applied,
      limited: { policy: limit.spec.policy, limit: limit.spec.name, rate, retryAfterMs: check.ttlMs },
    };
  };
  const check = storage.checkAndUpdate(hits);
  return check instanceof Promise ? check.then(outcome) : outcome(check);
}
