/**
 * The start-up table's rows: one per AuthPolicy, naming its target, phase, strategy and rules by
 * group; where it takes effect is filled in as the policies resolve.
 *
 * @module
 */
import type { ParsedPolicy } from "./auth_policy_parse.ts";
import { describeTarget } from "./auth_policy_targets.ts";

/** One policy as the start-up table shows it. */
export interface PolicyRow {
  /** `ns/name` of the AuthPolicy. */
  policy: string;
  /** What it targets, e.g. `Gateway gateway-system/mcp-gateway listener mcp`. */
  target: string;
  /** `rules` (implicit defaults), `defaults` or `overrides`. */
  phase: "rules" | "defaults" | "overrides";
  /** `atomic` or `merge`. */
  strategy: "atomic" | "merge";
  /** Rule names by group: `authentication`, `metadata`, `authorization`, `response`, `callbacks`, `when`, `patterns`. */
  rules: Record<string, string[]>;
  /** Where it takes effect: `broker`, `well-known`, `tokens`, `server ns/name`; empty when nowhere. */
  appliesTo: string[];
  /** Why it applies nowhere (target missing, superseded), when it does not. */
  reason?: string;
}

/** The row of a parsed policy, applying nowhere yet. */
export function policyRow(policy: ParsedPolicy): PolicyRow {
  return {
    policy: policy.key,
    target: describeTarget(policy),
    phase: policy.phase,
    strategy: policy.strategy,
    rules: ruleNames(policy),
    appliesTo: [],
  };
}

/** The row of a policy that could not be parsed (`reason` says why), applying nowhere. */
export function invalidPolicyRow(policy: string, reason: string): PolicyRow {
  return {
    policy,
    target: "",
    phase: "rules",
    strategy: "atomic",
    rules: {},
    appliesTo: [],
    reason,
  };
}

/** Rule names by group, for the start-up table. */
function ruleNames(policy: ParsedPolicy): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const id of policy.rules.keys()) {
    const at = id.indexOf("#");
    let group = id.slice(0, at);
    let name = id.slice(at + 1);
    if (group === "conditions") {
      group = "when";
      name = `${(policy.rules.get(id)!.spec as unknown[]).length} predicate(s)`;
    } else if (group.startsWith("response.")) {
      name = group === "response.success.headers"
        ? `success.headers.${name}`
        : group === "response.success.metadata"
        ? `success.filters.${name}`
        : group.slice("response.".length);
      group = "response";
    }
    (out[group] ??= []).push(name);
  }
  return out;
}
