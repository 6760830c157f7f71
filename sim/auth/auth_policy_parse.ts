/**
 * AuthPolicy (`kuadrant.io/v1`) objects read into what attachment and merging need: the target, the
 * phase (bare `rules` are implicit defaults, or `defaults`, or `overrides`), the strategy, and the
 * rules keyed by group and name as kuadrant-operator's `Rules()` keys them (`authentication#jwt`,
 * `conditions#`, `response.unauthenticated#`, ...).
 *
 * @module
 */
import { GATEWAY_API, groupOf, isObj, type Obj, str } from "./kube_object.ts";

const KUADRANT = "kuadrant.io";

/** A rule of a policy with the policy it came from (kuadrant-operator's `MergeableRule`). */
export interface SourcedRule {
  /** The rule as the policy writes it. */
  spec: unknown;
  /** `ns/name` of the policy. */
  source: string;
}

/** A policy's rules by `group#name`, as kuadrant-operator's `Rules()` keys them. */
export type RuleMap = Map<string, SourcedRule>;

/** An AuthPolicy read into what attachment and merging need. */
export interface ParsedPolicy {
  /** `ns/name`. */
  key: string;
  /** The policy's kind for messages (`AuthPolicy` when absent; `RateLimitPolicy` reuses attachment). */
  kind?: "AuthPolicy" | "RateLimitPolicy";
  /** Its namespace (`default` when it has none), which is also its target's. */
  namespace: string;
  /** Its name. */
  name: string;
  /** Its `creationTimestamp` in milliseconds; objects without one sort last (as if created now). */
  created: number;
  /** The kind its `targetRef` names. */
  targetKind: "Gateway" | "HTTPRoute";
  /** The name its `targetRef` names. */
  targetName: string;
  /** The listener (Gateway) or rule (HTTPRoute) its `targetRef.sectionName` names. */
  sectionName?: string;
  /** `rules` (implicit defaults, the bare `spec.rules`), `defaults` or `overrides`. */
  phase: "rules" | "defaults" | "overrides";
  /** `atomic` or `merge`. */
  strategy: "atomic" | "merge";
  /** Its rules by `group#name`. */
  rules: RuleMap;
  /** Whether it has a `rules` block (kuadrant-operator's `Empty()` is its absence). */
  hasScheme: boolean;
}

/** Whether `object` is an AuthPolicy (`kuadrant.io`, any version). */
export function isAuthPolicy(object: unknown): boolean {
  return isObj(object) && object.kind === "AuthPolicy" && groupOf(object.apiVersion) === KUADRANT;
}

/** The groups of an AuthPolicy's `rules`, each a map of named rules. */
const NAMED_GROUPS = ["authentication", "metadata", "authorization", "callbacks"] as const;

/** Reads the rules of one `spec`, `spec.defaults` or `spec.overrides` block, keyed as Kuadrant keys them. */
function rulesOf(proper: Obj, source: string): { rules: RuleMap; hasScheme: boolean } {
  const rules: RuleMap = new Map();
  const add = (id: string, spec: unknown) => rules.set(id, { spec, source });
  if (isObj(proper.patterns)) {
    for (const [name, spec] of Object.entries(proper.patterns)) add(`patterns#${name}`, spec);
  }
  if (Array.isArray(proper.when) && proper.when.length) add("conditions#", proper.when);
  const scheme = proper.rules;
  if (!isObj(scheme)) return { rules, hasScheme: false };
  for (const group of NAMED_GROUPS) {
    const named = scheme[group];
    if (!isObj(named)) continue;
    for (const [name, spec] of Object.entries(named)) add(`${group}#${name}`, spec);
  }
  const response = scheme.response;
  if (isObj(response)) {
    if (response.unauthenticated !== undefined) add("response.unauthenticated#", response.unauthenticated);
    if (response.unauthorized !== undefined) add("response.unauthorized#", response.unauthorized);
    const success = isObj(response.success) ? response.success : {};
    if (isObj(success.headers)) {
      for (const [name, spec] of Object.entries(success.headers)) {
        add(`response.success.headers#${name}`, spec);
      }
    }
    if (isObj(success.filters)) {
      for (const [name, spec] of Object.entries(success.filters)) {
        add(`response.success.metadata#${name}`, spec);
      }
    }
  }
  return { rules, hasScheme: true };
}

/** What every Kuadrant policy shares: its identity, target, phase and strategy. */
export type PolicyEnvelope = Omit<ParsedPolicy, "rules" | "hasScheme" | "kind"> & {
  /** The object that holds the phase's rules (`spec`, `spec.defaults` or `spec.overrides`). */
  proper: Obj;
  /** Its path for messages (`spec`, `spec.defaults`, `spec.overrides`). */
  at: string;
};

/** Options of {@linkcode parsePolicyEnvelope}: how the kind writes its implicit defaults. */
export interface EnvelopeOptions {
  /** The kind, for messages. */
  kind: "AuthPolicy" | "RateLimitPolicy";
  /** The field of the bare spec that holds the rules (`rules`, `limits`), for messages. */
  implicit: string;
  /** The fields of the bare spec that make it implicit defaults. */
  bare: readonly string[];
}

/**
 * The parts of a Kuadrant policy kuadrant-operator reads the same for every kind: `targetRef`,
 * `defaults` versus `overrides` versus the bare spec, and `strategy`. A string (one sentence naming
 * the policy and field) says why it cannot be used.
 */
export function parsePolicyEnvelope(object: Obj, options: EnvelopeOptions): PolicyEnvelope | string {
  const { kind: policyKind, implicit } = options;
  const meta = isObj(object.metadata) ? object.metadata : {};
  const namespace = str(meta.namespace) ?? "default";
  const name = str(meta.name) ?? "";
  const key = `${namespace}/${name}`;
  const spec = isObj(object.spec) ? object.spec : undefined;
  if (!spec) return `${policyKind} ${key} has no spec.`;
  const ref = isObj(spec.targetRef) ? spec.targetRef : undefined;
  const kind = str(ref?.kind);
  const targetName = str(ref?.name);
  if (!ref || !targetName || (kind !== "Gateway" && kind !== "HTTPRoute")) {
    return `${policyKind} ${key} field spec.targetRef must name a Gateway or an HTTPRoute (kind ${
      kind ?? "missing"
    }).`;
  }
  if ((str(ref.group) ?? "") !== GATEWAY_API) {
    return `${policyKind} ${key} field spec.targetRef.group must be ${GATEWAY_API}, got ${
      JSON.stringify(ref.group ?? "")
    }.`;
  }
  const bare = options.bare.some((field) => spec[field] !== undefined);
  if (spec.defaults !== undefined && spec.overrides !== undefined) {
    return `${policyKind} ${key} sets both spec.defaults and spec.overrides; they are mutually exclusive.`;
  }
  if ((spec.defaults !== undefined || spec.overrides !== undefined) && bare) {
    return `${policyKind} ${key} sets spec.${implicit} (implicit defaults) beside spec.${
      spec.defaults !== undefined ? "defaults" : "overrides"
    }; they are mutually exclusive.`;
  }
  const phase = spec.defaults !== undefined
    ? "defaults"
    : spec.overrides !== undefined
    ? "overrides"
    : "rules";
  const at = phase === "rules" ? "spec" : `spec.${phase}`;
  const proper = phase === "rules" ? spec : spec[phase];
  if (!isObj(proper)) return `${policyKind} ${key} field ${at} must be an object.`;
  const strategy = phase === "rules" ? "atomic" : (str(proper.strategy) ?? "atomic");
  if (strategy !== "atomic" && strategy !== "merge") {
    return `${policyKind} ${key} field ${at}.strategy must be atomic or merge, got ${
      JSON.stringify(strategy)
    }.`;
  }
  const createdText = str(meta.creationTimestamp);
  const created = createdText ? Date.parse(createdText) : NaN;
  return {
    key,
    namespace,
    name,
    // Objects from files have no timestamp: they sort after the cluster's, by name (as if created now).
    created: Number.isNaN(created) ? Number.MAX_SAFE_INTEGER : created,
    targetKind: kind,
    targetName,
    ...(str(ref.sectionName) ? { sectionName: str(ref.sectionName) } : {}),
    phase,
    strategy,
    proper,
    at,
  };
}

/** Parses one AuthPolicy object; a string (one sentence naming the policy and field) says why it cannot be used. */
export function parsePolicy(object: Obj): ParsedPolicy | string {
  const envelope = parsePolicyEnvelope(object, {
    kind: "AuthPolicy",
    implicit: "rules",
    bare: ["rules", "when", "patterns"],
  });
  if (typeof envelope === "string") return envelope;
  const { proper, at: _at, ...policy } = envelope;
  return { ...policy, ...rulesOf(proper, policy.key) };
}

/** Kuadrant's `ObjectsByCreationTimestamp`: oldest first, then `namespace/name`. */
export function byAge(a: ParsedPolicy, b: ParsedPolicy): number {
  if (a.created !== b.created) return a.created - b.created;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
