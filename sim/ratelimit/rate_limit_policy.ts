/**
 * RateLimitPolicy (`kuadrant.io/v1`) objects resolved the way Kuadrant resolves them: attached like
 * AuthPolicies (Gateway, one of its listeners, an HTTPRoute or one of its rules; `auth_policy_targets.ts`)
 * and merged along each path Gateway -> listener -> HTTPRoute -> rule with the same defaults/overrides
 * and atomic/merge rules (`auth_policy_merge.ts`): a policy's rules are its limits keyed by name
 * (`limits#name`) plus its top-level `when` (`conditions#`), as kuadrant-operator's `Rules()` keys them.
 *
 * A limit is `rates` (`limit` per `window`, the CRD's `^([0-9]{1,5}(h|m|s|ms)){1,4}$`), `counters`
 * (CEL expressions whose values qualify the counter) and `when` (CEL predicates); the policy's
 * top-level `when` applies to each of its limits.
 *
 * @module
 */
import { effectiveRules } from "../auth/auth_policy_merge.ts";
import type { PolicyProblem } from "../auth/auth_policy.ts";
import { byAge, type ParsedPolicy, parsePolicyEnvelope, type RuleMap } from "../auth/auth_policy_parse.ts";
import {
  type BrokerRule,
  describeTarget,
  missingTarget,
  policiesAlongPath,
  type PolicyTargets,
  type RouteTarget,
  whyAppliesNowhere,
} from "../auth/auth_policy_targets.ts";
import { groupOf, isObj, type Obj, objectKey, str } from "../auth/kube_object.ts";
import type { Rate } from "./types.ts";

export type { Rate } from "./types.ts";

const KUADRANT = "kuadrant.io";

/** The CRD's window pattern: up to four `<n><unit>` parts, e.g. `1h30m`, `500ms`. */
const WINDOW = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const WINDOW_PART = /([0-9]{1,5})(ms|h|m|s)/g;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** One limit of an effective policy. */
export interface LimitSpec {
  /** The limit's name in its policy (`spec.limits.<name>`). */
  name: string;
  /** `ns/name` of the RateLimitPolicy it came from. */
  policy: string;
  /** Its rates; each is a counter of its own. */
  rates: Rate[];
  /** CEL expressions whose values qualify the counter (one counter per distinct tuple). */
  counters: string[];
  /** CEL predicates, all of which must hold (the policy's top-level `when` first). */
  when: string[];
}

/** A RateLimitPolicy that could not be applied: the same shape and codes as an AuthPolicy's. */
export type RateLimitProblem = PolicyProblem;

/** One row of the start-up table and `/status`. */
export interface RateLimitRow {
  /** `ns/name`. */
  policy: string;
  /** E.g. `Gateway ns/gw listener mcp`; empty when the policy is invalid. */
  target: string;
  /** `limits` (implicit defaults), `defaults` or `overrides`. */
  phase: "limits" | "defaults" | "overrides";
  /** `atomic` or `merge`. */
  strategy: "atomic" | "merge";
  /** Its limits by name, e.g. `{ "per-user": "3/10s" }`. */
  limits: Record<string, string>;
  /** Where it applies: `broker`, `well-known`, `status`, `tokens`, `server ns/name`. */
  appliesTo: string[];
  /** Why it applies nowhere, when it does not. */
  reason?: string;
}

/** The effective limits of one gateway. */
export interface ResolvedRateLimits {
  /** The limits of each broker route rule; absent when no policy applies there. */
  broker: Partial<Record<BrokerRule, LimitSpec[]>>;
  /** The limits of each registration's route (by registration `ns/name`), when any applies. */
  servers: Map<string, LimitSpec[]>;
  /** Policies not applied. */
  problems: RateLimitProblem[];
  /** One row per policy, in input order. */
  rows: RateLimitRow[];
}

/** Whether `object` is a RateLimitPolicy (`kuadrant.io`, any version). */
export function isRateLimitPolicy(object: unknown): boolean {
  return isObj(object) && object.kind === "RateLimitPolicy" && groupOf(object.apiVersion) === KUADRANT;
}

/**
 * The window in milliseconds as written (Go's `time.ParseDuration` over the units the CRD's pattern
 * allows; 0 for a zero window); undefined when it does not match the pattern.
 */
export function parseWindow(window: string): number | undefined {
  if (!WINDOW.test(window)) return undefined;
  let ms = 0;
  for (const m of window.matchAll(WINDOW_PART)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return ms;
}

/**
 * The window Limitador counts in: kuadrant-operator hands it whole seconds, truncated (`Rate.ToSeconds`),
 * so `1500ms` counts in 1 s and `500ms` in 0 s, a window whose counter expires at once and never fills.
 */
export const limitadorWindowMs = (ms: number): number => Math.trunc(ms / 1000) * 1000;

/** A limit as its policy writes it, checked; a string says what is wrong. */
function parseLimit(spec: unknown, name: string, key: string, at: string):
  | Omit<LimitSpec, "when"> & {
    when: string[];
  }
  | string {
  const field = `${at}.limits.${name}`;
  if (!isObj(spec)) return `RateLimitPolicy ${key} field ${field} must be an object.`;
  const rates: Rate[] = [];
  for (const [i, r] of (Array.isArray(spec.rates) ? spec.rates : []).entries()) {
    if (!isObj(r) || typeof r.limit !== "number" || !Number.isInteger(r.limit)) {
      return `RateLimitPolicy ${key} field ${field}.rates[${i}].limit must be an integer.`;
    }
    const window = str(r.window) ?? "";
    const windowMs = parseWindow(window);
    if (windowMs === undefined) {
      return `RateLimitPolicy ${key} field ${field}.rates[${i}].window ${
        JSON.stringify(window)
      } does not match ^([0-9]{1,5}(h|m|s|ms)){1,4}$.`;
    }
    // A negative limit reaches Limitador as 0, as kuadrant-operator's Rate.ToSeconds clamps it.
    rates.push({ limit: Math.max(0, r.limit), window, windowMs: limitadorWindowMs(windowMs) });
  }
  const counters: string[] = [];
  for (const [i, c] of (Array.isArray(spec.counters) ? spec.counters : []).entries()) {
    const expression = isObj(c) ? str(c.expression) : undefined;
    if (!expression) return `RateLimitPolicy ${key} field ${field}.counters[${i}].expression must be set.`;
    counters.push(expression);
  }
  const when = predicates(spec.when);
  if (typeof when === "string") return `RateLimitPolicy ${key} field ${field}.when${when}`;
  return { name, policy: key, rates, counters, when };
}

function predicates(list: unknown): string[] | string {
  const out: string[] = [];
  for (const [i, p] of (Array.isArray(list) ? list : []).entries()) {
    const predicate = isObj(p) ? str(p.predicate) : undefined;
    if (!predicate) return `[${i}].predicate must be set.`;
    out.push(predicate);
  }
  return out;
}

/** Parses one RateLimitPolicy; a string (one sentence naming the policy and field) says why it cannot be used. */
export function parseRateLimitPolicy(object: Obj): ParsedPolicy | string {
  const envelope = parsePolicyEnvelope(object, {
    kind: "RateLimitPolicy",
    implicit: "limits",
    bare: ["limits", "when"],
  });
  if (typeof envelope === "string") return envelope;
  const { proper, at, ...policy } = envelope;
  const key = policy.key;
  const rules: RuleMap = new Map();
  const when = predicates(proper.when);
  if (typeof when === "string") return `RateLimitPolicy ${key} field ${at}.when${when}`;
  if (when.length) rules.set("conditions#", { spec: when, source: key });
  const limits = isObj(proper.limits) ? proper.limits : undefined;
  for (const [limitName, limitSpec] of Object.entries(limits ?? {})) {
    const limit = parseLimit(limitSpec, limitName, key, at);
    if (typeof limit === "string") return limit;
    // The policy's own `when` travels with each limit, as Kuadrant puts it in each limit's conditions.
    rules.set(`limits#${limitName}`, { spec: { ...limit, when: [...when, ...limit.when] }, source: key });
  }
  return {
    ...policy,
    kind: "RateLimitPolicy",
    rules,
    hasScheme: limits !== undefined && Object.keys(limits).length > 0,
  };
}

/** The limits of a merged rule map, sorted by policy then name. */
function limitsOf(rules: RuleMap): LimitSpec[] {
  const out: LimitSpec[] = [];
  for (const [id, rule] of rules) if (id.startsWith("limits#")) out.push(rule.spec as LimitSpec);
  return out.sort((a, b) => `${a.policy}#${a.name}` < `${b.policy}#${b.name}` ? -1 : 1);
}

const rateText = (l: LimitSpec) => l.rates.map((r) => `${r.limit}/${r.window}`).join(",");

/**
 * Resolves RateLimitPolicy objects against the gateway's targets: the effective limits of each broker
 * route rule and each registration's route, the policies not applied, and the table's rows. Objects
 * that are not RateLimitPolicies are ignored.
 */
export function resolveRateLimitPolicies(
  objects: readonly unknown[],
  targets: PolicyTargets,
): ResolvedRateLimits {
  const problems: RateLimitProblem[] = [];
  const rows: RateLimitRow[] = [];
  const parsed: ParsedPolicy[] = [];
  const rowOf = new Map<string, RateLimitRow>();
  for (const object of objects) {
    if (!isRateLimitPolicy(object)) continue;
    const policy = parseRateLimitPolicy(object as Obj);
    if (typeof policy === "string") {
      const key = objectKey(object as Obj);
      problems.push({ policy: key, code: "invalid-policy", message: policy });
      rows.push({
        policy: key,
        target: "",
        phase: "limits",
        strategy: "atomic",
        limits: {},
        appliesTo: [],
        reason: policy,
      });
      continue;
    }
    const limits: Record<string, string> = {};
    for (const l of limitsOf(policy.rules)) limits[l.name] = rateText(l);
    const row: RateLimitRow = {
      policy: policy.key,
      target: describeTarget(policy),
      phase: policy.phase === "rules" ? "limits" : policy.phase,
      strategy: policy.strategy,
      limits,
      appliesTo: [],
    };
    rows.push(row);
    const missing = missingTarget(policy, targets);
    if (missing) {
      problems.push({ policy: policy.key, code: "target-not-found", message: missing });
      row.reason = missing;
      continue;
    }
    parsed.push(policy);
    rowOf.set(policy.key, row);
  }
  parsed.sort(byAge);
  const resolve = (route: RouteTarget, rule: string | undefined, where: string) => {
    const rules = effectiveRules(policiesAlongPath(parsed, targets, route, rule));
    const limits = rules ? limitsOf(rules) : [];
    if (!limits.length) return undefined;
    for (const l of limits) {
      const row = rowOf.get(l.policy);
      if (row && !row.appliesTo.includes(where)) row.appliesTo.push(where);
    }
    return limits;
  };
  const broker: ResolvedRateLimits["broker"] = {};
  for (const rule of ["mcp", "well-known", "status"] as const) {
    const limits = resolve(targets.brokerRoute, rule, rule === "mcp" ? "broker" : rule);
    if (limits) broker[rule] = limits;
  }
  if (targets.tokensRoute) {
    const limits = resolve(targets.tokensRoute, "tokens", "tokens");
    if (limits) broker.tokens = limits;
  }
  const servers = new Map<string, LimitSpec[]>();
  for (const [server, route] of [...targets.servers].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    const limits = resolve(route, route.rules[0], `server ${server}`);
    if (limits) servers.set(server, limits);
  }
  for (const policy of parsed) {
    const row = rowOf.get(policy.key)!;
    if (row.appliesTo.length) continue;
    const why = whyAppliesNowhere(policy, targets, "limits");
    row.reason = why.reason;
    if (why.problem) problems.push(why.problem);
  }
  return { broker, servers, problems, rows };
}
