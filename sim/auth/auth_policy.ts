/**
 * AuthPolicy (`kuadrant.io/v1`) objects resolved the way Kuadrant resolves them: each policy attaches
 * to a Gateway, one of its listeners (`sectionName`), an HTTPRoute or one of its rules; along each
 * path Gateway -> listener -> HTTPRoute -> rule the policies merge into one effective policy, which
 * Kuadrant hands to Authorino as one AuthConfig ({@linkcode AuthConfigSpec}).
 *
 * This module is the entry point and runs the stages, each in its own file: `auth_policy_parse.ts`
 * (objects into policies), `auth_policy_targets.ts` (what they attach to, the policies along a path),
 * `auth_policy_merge.ts` (defaults and overrides, atomic and merge) and `auth_policy_rows.ts` (the
 * start-up table).
 *
 * @module
 */
import { effectiveSpec } from "./auth_policy_merge.ts";
import { byAge, isAuthPolicy, type ParsedPolicy, parsePolicy } from "./auth_policy_parse.ts";
import { invalidPolicyRow, type PolicyRow, policyRow } from "./auth_policy_rows.ts";
import {
  type BrokerRule,
  missingTarget,
  policiesAlongPath,
  type PolicyTargets,
  type RouteTarget,
  whyAppliesNowhere,
} from "./auth_policy_targets.ts";
import { type Obj, objectKey } from "./kube_object.ts";
import type { AuthConfigSpec } from "./types.ts";

export { isAuthPolicy } from "./auth_policy_parse.ts";
export type { PolicyRow } from "./auth_policy_rows.ts";
export {
  BROKER_ROUTE_NAME,
  type BrokerRule,
  type ListenerTarget,
  type PolicyTargets,
  policyTargetsFromObjects,
  routeListener,
  type RouteTarget,
  TOKENS_ROUTE_NAME,
} from "./auth_policy_targets.ts";

/** A policy that could not be applied, or a part of one that is ignored. */
export interface PolicyProblem {
  /** `ns/name` of the AuthPolicy. */
  policy: string;
  /** Stable code: `target-not-found`, `invalid-policy`, `not-served`. */
  code: string;
  /** One sentence naming the policy and its target. */
  message: string;
}

/** The effective AuthConfigs of one gateway, and what the start-up table says about the policies. */
export interface ResolvedAuthPolicies {
  /** The effective spec of each broker route rule; absent when no policy applies there. */
  broker: Partial<Record<BrokerRule, AuthConfigSpec>>;
  /** The effective spec of each registration's route (by registration `ns/name`), when any applies. */
  servers: Map<string, AuthConfigSpec>;
  /** Policies not applied (missing targets, invalid specs). */
  problems: PolicyProblem[];
  /** One row per policy, in input order. */
  rows: PolicyRow[];
}

/**
 * Resolves AuthPolicy objects against the gateway's targets: the effective {@linkcode AuthConfigSpec}
 * of each broker route rule and each registration's route, the policies that could not be applied,
 * and the start-up table's rows. Objects that are not AuthPolicies are ignored.
 */
export function resolveAuthPolicies(
  objects: readonly unknown[],
  targets: PolicyTargets,
): ResolvedAuthPolicies {
  const problems: PolicyProblem[] = [];
  const rows: PolicyRow[] = [];
  const parsed: ParsedPolicy[] = [];
  const rowOf = new Map<ParsedPolicy, PolicyRow>();
  for (const object of objects) {
    if (!isAuthPolicy(object)) continue;
    const policy = parsePolicy(object as Obj);
    if (typeof policy === "string") {
      const key = objectKey(object as Obj);
      problems.push({ policy: key, code: "invalid-policy", message: policy });
      rows.push(invalidPolicyRow(key, policy));
      continue;
    }
    const row = policyRow(policy);
    rows.push(row);
    const missing = missingTarget(policy, targets);
    if (missing) {
      problems.push({ policy: policy.key, code: "target-not-found", message: missing });
      row.reason = missing;
      continue;
    }
    parsed.push(policy);
    rowOf.set(policy, row);
  }
  parsed.sort(byAge);

  const resolve = (
    route: RouteTarget,
    rule: string | undefined,
    where: string,
  ): AuthConfigSpec | undefined => {
    const spec = effectiveSpec(policiesAlongPath(parsed, targets, route, rule));
    if (!spec) return undefined;
    for (const source of spec.sources) {
      for (const [policy, row] of rowOf) {
        if (policy.key === source && !row.appliesTo.includes(where)) row.appliesTo.push(where);
      }
    }
    return spec;
  };

  const broker: ResolvedAuthPolicies["broker"] = {};
  for (const rule of ["mcp", "well-known", "status"] as const) {
    const spec = resolve(targets.brokerRoute, rule, rule === "mcp" ? "broker" : rule);
    if (spec) broker[rule] = spec;
  }
  if (targets.tokensRoute) {
    const spec = resolve(targets.tokensRoute, "tokens", "tokens");
    if (spec) broker.tokens = spec;
  }
  const servers = new Map<string, AuthConfigSpec>();
  for (const [server, route] of [...targets.servers].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    const spec = resolve(route, route.rules[0], `server ${server}`);
    if (spec) servers.set(server, spec);
  }
  for (const [policy, row] of rowOf) {
    if (row.appliesTo.length) continue;
    const why = whyAppliesNowhere(policy, targets, "rules");
    row.reason = why.reason;
    if (why.problem) problems.push(why.problem);
  }
  return { broker, servers, problems, rows };
}
