/**
 * The policies along one path Gateway -> listener -> HTTPRoute -> rule merged into one effective
 * policy, which Kuadrant hands to Authorino as one AuthConfig ({@linkcode AuthConfigSpec}).
 *
 * The merge follows kuadrant-operator's `api/v1/merge_strategies.go`: policies in a path are ordered
 * from the least specific to the most specific (on one target, oldest `creationTimestamp` first, then
 * `namespace/name`), then folded from the most specific end: each less specific policy is merged in
 * with its own strategy. Rules are keyed by group and name (`authentication#jwt`, `conditions#`,
 * `response.unauthenticated#`, ...), so `merge` works rule by rule and `atomic` policy by policy:
 * - atomic defaults (also bare `rules`): the more specific policy wins when it has rules at all;
 * - atomic overrides: the less specific policy replaces whatever was below it;
 * - merge defaults: the more specific policy's rules stay, the less specific one adds the names it lacks;
 * - merge overrides: the less specific policy's rules win, the more specific one keeps the names it alone has.
 *
 * @module
 */
import type { ParsedPolicy, RuleMap } from "./auth_policy_parse.ts";
import type { AuthConfigSpec } from "./types.ts";

/** A merged policy: the strategy is the one of the policy merged in last, which is all a merge reads. */
interface Effective {
  rules: RuleMap;
  hasScheme: boolean;
}

/** Copies `rules`, keeping each rule's source. */
const copyRules = (rules: RuleMap): RuleMap => new Map(rules);

/** Kuadrant's `Empty()` on a merged policy: no rule of the auth scheme left (patterns and `when` do not count). */
function schemeOf(rules: RuleMap): boolean {
  for (const id of rules.keys()) {
    if (!id.startsWith("patterns#") && !id.startsWith("conditions#")) return true;
  }
  return false;
}

/** Merges `source` (less specific) into `target` (the effective policy so far) with `source`'s strategy. */
function mergeInto(source: ParsedPolicy, target: Effective): Effective {
  const overrides = source.phase === "overrides";
  if (source.strategy === "atomic") {
    if (overrides || !target.hasScheme) {
      return { rules: copyRules(source.rules), hasScheme: source.hasScheme };
    }
    return target;
  }
  const winner = overrides ? source.rules : target.rules;
  const loser = overrides ? target.rules : source.rules;
  const rules = copyRules(winner);
  for (const [id, rule] of loser) if (!rules.has(id)) rules.set(id, rule);
  return { rules, hasScheme: schemeOf(rules) };
}

/** The effective policy of a path whose policies are ordered least specific first (`EffectivePolicyForPath`). */
function effectiveFor(policies: readonly ParsedPolicy[]): Effective | undefined {
  if (!policies.length) return undefined;
  const last = policies[policies.length - 1];
  let effective: Effective = { rules: copyRules(last.rules), hasScheme: last.hasScheme };
  for (let i = policies.length - 2; i >= 0; i--) effective = mergeInto(policies[i], effective);
  return effective;
}
/**
 * The effective rules of a path whose policies are ordered least specific first, keyed `group#name`
 * with their sources; undefined when no policy is on the path. A RateLimitPolicy's limits merge the
 * same way (`limits#name`, `conditions#`), so `sim/ratelimit/` uses this too.
 */
export function effectiveRules(policies: readonly ParsedPolicy[]): RuleMap | undefined {
  return effectiveFor(policies)?.rules;
}

/**
 * The effective AuthConfig of a path whose policies are ordered least specific first (on one target,
 * oldest first, then by `namespace/name`); undefined when no policy is on the path.
 */
export function effectiveSpec(policies: readonly ParsedPolicy[]): AuthConfigSpec | undefined {
  const effective = effectiveFor(policies);
  return effective && toSpec(effective);
}

/** The effective rules in the AuthPolicy's own shape, as Authorino's AuthConfig reads them. */
function toSpec(effective: Effective): AuthConfigSpec {
  const rules: Record<string, unknown> = {};
  const patterns: Record<string, unknown> = {};
  let when: { predicate: string }[] | undefined;
  const group = (name: string): Record<string, unknown> => (rules[name] ??= {}) as Record<string, unknown>;
  const response = () => group("response");
  const success = (): Record<string, unknown> => (response().success ??= {}) as Record<string, unknown>;
  const ids = [...effective.rules.keys()].sort();
  for (const id of ids) {
    const { spec } = effective.rules.get(id)!;
    const at = id.indexOf("#");
    const kind = id.slice(0, at);
    const name = id.slice(at + 1);
    switch (kind) {
      case "patterns":
        patterns[name] = spec;
        break;
      case "conditions":
        when = (spec as { predicate: string }[]).map((p) => ({ ...p }));
        break;
      case "authentication":
      case "metadata":
      case "authorization":
      case "callbacks":
        group(kind)[name] = spec;
        break;
      case "response.unauthenticated":
        response().unauthenticated = spec;
        break;
      case "response.unauthorized":
        response().unauthorized = spec;
        break;
      case "response.success.headers":
        ((success().headers ??= {}) as Record<string, unknown>)[name] = spec;
        break;
      case "response.success.metadata":
        ((success().filters ??= {}) as Record<string, unknown>)[name] = spec;
        break;
    }
  }
  const sources = [...new Set([...effective.rules.values()].map((r) => r.source))].sort();
  return {
    ...(when ? { when } : {}),
    ...(Object.keys(patterns).length ? { patterns } : {}),
    rules,
    sources,
  };
}
