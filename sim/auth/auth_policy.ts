/**
 * AuthPolicy (`kuadrant.io/v1`) objects resolved the way Kuadrant resolves them: each policy attaches
 * to a Gateway, one of its listeners (`sectionName`), an HTTPRoute or one of its rules; along each
 * path Gateway -> listener -> HTTPRoute -> rule the policies merge into one effective policy, which
 * Kuadrant hands to Authorino as one AuthConfig ({@linkcode AuthConfigSpec}).
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
 * The simulator serves one gateway listener (the MCPGatewayExtension's `targetRef`): the broker's
 * own routes (`mcp-gateway-route` with rules `mcp`, `well-known`, `status`; `mcp-gateway-tokens-route`
 * with rule `tokens`, which the controller creates in the extension's namespace) and each
 * registration's HTTPRoute, which governs the `tools/call` and `prompts/get` routed to its server.
 *
 * @module
 */
import type { AuthConfigSpec } from "./types.ts";

const GATEWAY_API = "gateway.networking.k8s.io";
const KUADRANT = "kuadrant.io";

/** Name of the HTTPRoute upstream's controller creates for the broker (`broker_router.go`). */
export const BROKER_ROUTE_NAME = "mcp-gateway-route";
/** Name of the HTTPRoute upstream's controller creates for the `/tokens` page. */
export const TOKENS_ROUTE_NAME = "mcp-gateway-tokens-route";

/** The broker route rules a request to the gateway's own paths goes through. */
export type BrokerRule = "mcp" | "well-known" | "status" | "tokens";

/** One listener of the Gateway. */
export interface ListenerTarget {
  /** The listener's `name` (what a `sectionName` names). */
  name: string;
  /** Its `hostname`, absent when it accepts any. */
  hostname?: string;
}

/** One HTTPRoute a policy may target. */
export interface RouteTarget {
  /** Its namespace. */
  namespace: string;
  /** Its name. */
  name: string;
  /** Its rules' names in order (`undefined` for an unnamed rule). */
  rules: (string | undefined)[];
  /** Its hostnames (empty: any). */
  hostnames: string[];
  /**
   * The Gateway listeners it attaches through: the `sectionName`s of its parentRefs to the Gateway,
   * or every listener when a parentRef names none; empty when unknown (no HTTPRoute object).
   */
  listeners: string[];
}

/** What AuthPolicies can attach to in the replayed gateway. */
export interface PolicyTargets {
  /** The Gateway the MCPGatewayExtension targets. */
  gateway: {
    namespace: string;
    name: string;
    /** Its listeners (from the Gateway object; only the MCP listener when the object is not known). */
    listeners: ListenerTarget[];
    /** Whether the Gateway object itself is known (otherwise only its MCP listener is). */
    known: boolean;
  };
  /** The MCP listener: the extension's `targetRef.sectionName`. */
  listener: string;
  /** The broker's route (`mcp-gateway-route` in the extension's namespace). */
  brokerRoute: RouteTarget;
  /** The `/tokens` route, when URL elicitation is on. */
  tokensRoute?: RouteTarget;
  /** Each registration (`ns/name`) and the HTTPRoute it targets. */
  servers: Map<string, RouteTarget>;
  /** Other HTTPRoutes known (policies on them are valid but govern nothing the simulator serves). */
  otherRoutes?: RouteTarget[];
}

/** A policy that could not be applied, or a part of one that is ignored. */
export interface PolicyProblem {
  /** `ns/name` of the AuthPolicy. */
  policy: string;
  /** Stable code: `target-not-found`, `invalid-policy`, `not-served`. */
  code: string;
  /** One sentence naming the policy and its target. */
  message: string;
}

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

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => typeof v === "string" && v !== "" ? v : undefined;
const groupOf = (apiVersion: unknown): string =>
  typeof apiVersion === "string" && apiVersion.includes("/") ? apiVersion.split("/")[0] : "";

/** A rule of a policy with the policy it came from (kuadrant-operator's `MergeableRule`). */
interface SourcedRule {
  spec: unknown;
  source: string;
}

/** A policy's rules by `group#name`, as kuadrant-operator's `Rules()` keys them. */
type RuleMap = Map<string, SourcedRule>;

/** An AuthPolicy read into what attachment and merging need. */
interface ParsedPolicy {
  key: string;
  namespace: string;
  name: string;
  created: number;
  targetKind: "Gateway" | "HTTPRoute";
  targetName: string;
  sectionName?: string;
  phase: "rules" | "defaults" | "overrides";
  strategy: "atomic" | "merge";
  rules: RuleMap;
  /** Whether it has a `rules` block (kuadrant-operator's `Empty()` is its absence). */
  hasScheme: boolean;
}

/** A merged policy: the strategy is the one of the policy merged in last, which is all a merge reads. */
interface Effective {
  rules: RuleMap;
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

/** Parses one AuthPolicy object; a string says why it cannot be used. */
function parsePolicy(object: Obj): ParsedPolicy | string {
  const meta = isObj(object.metadata) ? object.metadata : {};
  const namespace = str(meta.namespace) ?? "default";
  const name = str(meta.name) ?? "";
  const key = `${namespace}/${name}`;
  const spec = isObj(object.spec) ? object.spec : undefined;
  if (!spec) return `AuthPolicy ${key} has no spec.`;
  const ref = isObj(spec.targetRef) ? spec.targetRef : undefined;
  const kind = str(ref?.kind);
  const targetName = str(ref?.name);
  if (!ref || !targetName || (kind !== "Gateway" && kind !== "HTTPRoute")) {
    return `AuthPolicy ${key} field spec.targetRef must name a Gateway or an HTTPRoute (kind ${
      kind ?? "missing"
    }).`;
  }
  if ((str(ref.group) ?? "") !== GATEWAY_API) {
    return `AuthPolicy ${key} field spec.targetRef.group must be ${GATEWAY_API}, got ${
      JSON.stringify(ref.group ?? "")
    }.`;
  }
  const bare = spec.rules !== undefined || spec.when !== undefined || spec.patterns !== undefined;
  if (spec.defaults !== undefined && spec.overrides !== undefined) {
    return `AuthPolicy ${key} sets both spec.defaults and spec.overrides; they are mutually exclusive.`;
  }
  if ((spec.defaults !== undefined || spec.overrides !== undefined) && bare) {
    return `AuthPolicy ${key} sets spec.rules (implicit defaults) beside spec.${
      spec.defaults !== undefined ? "defaults" : "overrides"
    }; they are mutually exclusive.`;
  }
  const phase = spec.defaults !== undefined
    ? "defaults"
    : spec.overrides !== undefined
    ? "overrides"
    : "rules";
  const proper = phase === "rules" ? spec : spec[phase];
  if (!isObj(proper)) return `AuthPolicy ${key} field spec.${phase} must be an object.`;
  const strategy = phase === "rules" ? "atomic" : (str(proper.strategy) ?? "atomic");
  if (strategy !== "atomic" && strategy !== "merge") {
    return `AuthPolicy ${key} field spec.${phase}.strategy must be atomic or merge, got ${
      JSON.stringify(strategy)
    }.`;
  }
  const { rules, hasScheme } = rulesOf(proper, key);
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
    rules,
    hasScheme,
  };
}

/** Kuadrant's `ObjectsByCreationTimestamp`: oldest first, then `namespace/name`. */
function byAge(a: ParsedPolicy, b: ParsedPolicy): number {
  if (a.created !== b.created) return a.created - b.created;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
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

/** How Envoy picks a virtual host: an exact hostname beats a wildcard, a longer wildcard a shorter one. */
function hostnameScore(listener: ListenerTarget, routeHosts: readonly string[]): number {
  const lh = listener.hostname;
  if (!lh) return 1;
  if (!routeHosts.length) return lh.startsWith("*.") ? 2 : 0;
  let best = 0;
  for (const rh of routeHosts) {
    if (rh === lh) best = Math.max(best, 1000);
    else if (lh.startsWith("*.") && rh.endsWith(lh.slice(1))) best = Math.max(best, 2 + lh.length);
    else if (rh.startsWith("*.") && lh.endsWith(rh.slice(1))) best = Math.max(best, 2 + rh.length);
  }
  return best;
}

/**
 * The one listener a route's traffic arrives through: among the listeners it attaches to (all of
 * them when unknown), the one whose hostname matches the route's most specifically, else the first.
 */
export function routeListener(targets: PolicyTargets, route: RouteTarget): string | undefined {
  const known = targets.gateway.listeners;
  const attached = route.listeners.length
    ? known.filter((l) => route.listeners.includes(l.name))
    : known.filter((l) => l.name !== targets.listener).concat(
      known.filter((l) => l.name === targets.listener),
    );
  let best: ListenerTarget | undefined;
  let bestScore = 0;
  for (const listener of attached) {
    const score = hostnameScore(listener, route.hostnames);
    if (score > bestScore) [best, bestScore] = [listener, score];
  }
  return (best ?? attached[0])?.name;
}

const describeTarget = (p: ParsedPolicy): string =>
  `${p.targetKind} ${p.namespace}/${p.targetName}${
    p.sectionName ? ` ${p.targetKind === "Gateway" ? "listener" : "rule"} ${p.sectionName}` : ""
  }`;

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
      const meta = isObj((object as Obj).metadata) ? (object as Obj).metadata as Obj : {};
      const key = `${str(meta.namespace) ?? "default"}/${str(meta.name) ?? ""}`;
      problems.push({ policy: key, code: "invalid-policy", message: policy });
      rows.push({
        policy: key,
        target: "",
        phase: "rules",
        strategy: "atomic",
        rules: {},
        appliesTo: [],
        reason: policy,
      });
      continue;
    }
    const row: PolicyRow = {
      policy: policy.key,
      target: describeTarget(policy),
      phase: policy.phase,
      strategy: policy.strategy,
      rules: ruleNames(policy),
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
    rowOf.set(policy, row);
  }
  parsed.sort(byAge);

  const gw = targets.gateway;
  const onGateway = (p: ParsedPolicy) =>
    p.targetKind === "Gateway" && p.namespace === gw.namespace && p.targetName === gw.name;
  const onRoute = (p: ParsedPolicy, r: RouteTarget) =>
    p.targetKind === "HTTPRoute" && p.namespace === r.namespace && p.targetName === r.name;
  /** The policies along Gateway -> listener -> route -> rule, least specific first. */
  const pathPolicies = (route: RouteTarget, rule: string | undefined) => {
    const listener = routeListener(targets, route);
    return [
      ...parsed.filter((p) => onGateway(p) && !p.sectionName),
      ...parsed.filter((p) => onGateway(p) && p.sectionName !== undefined && p.sectionName === listener),
      ...parsed.filter((p) => onRoute(p, route) && !p.sectionName),
      ...parsed.filter((p) => onRoute(p, route) && p.sectionName !== undefined && p.sectionName === rule),
    ];
  };
  const resolve = (
    route: RouteTarget,
    rule: string | undefined,
    where: string,
  ): AuthConfigSpec | undefined => {
    const effective = effectiveFor(pathPolicies(route, rule));
    if (!effective) return undefined;
    const spec = toSpec(effective);
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
    const served = onGateway(policy) || onRoute(policy, targets.brokerRoute) ||
      (targets.tokensRoute && onRoute(policy, targets.tokensRoute)) ||
      [...targets.servers.values()].some((r) => onRoute(policy, r));
    row.reason = served
      ? "superseded: more specific defaults or broader overrides replace all of its rules"
      : `${describeTarget(policy)} serves nothing the simulator serves (no registration routes through it)`;
    if (!served) {
      problems.push({
        policy: policy.key,
        code: "not-served",
        message: `AuthPolicy ${policy.key} targets ${
          describeTarget(policy)
        }, which no request to this gateway passes.`,
      });
    }
  }
  return { broker, servers, problems, rows };
}

/** Why a policy's target does not exist among the known targets; undefined when it does. */
function missingTarget(p: ParsedPolicy, targets: PolicyTargets): string | undefined {
  const gw = targets.gateway;
  if (p.targetKind === "Gateway") {
    if (p.namespace !== gw.namespace || p.targetName !== gw.name) {
      return `AuthPolicy ${p.key} targets Gateway ${p.namespace}/${p.targetName}, which is not among the objects (this replay serves Gateway ${gw.namespace}/${gw.name}); not applied.`;
    }
    if (p.sectionName && !gw.listeners.some((l) => l.name === p.sectionName)) {
      const known = gw.listeners.map((l) => l.name).join(", ");
      return `AuthPolicy ${p.key} targets listener ${p.sectionName} of Gateway ${gw.namespace}/${gw.name}, which has no such listener (${
        gw.known ? `listeners: ${known}` : `only listener ${known} is known, from the MCPGatewayExtension`
      }); not applied.`;
    }
    return undefined;
  }
  const routes = [
    targets.brokerRoute,
    ...(targets.tokensRoute ? [targets.tokensRoute] : []),
    ...targets.servers.values(),
    ...(targets.otherRoutes ?? []),
  ];
  const route = routes.find((r) => r.namespace === p.namespace && r.name === p.targetName);
  if (!route) {
    return `AuthPolicy ${p.key} targets HTTPRoute ${p.namespace}/${p.targetName}, which is not among the objects; not applied.`;
  }
  if (p.sectionName && !route.rules.includes(p.sectionName)) {
    const named = route.rules.filter((r) => r !== undefined);
    return `AuthPolicy ${p.key} targets rule ${p.sectionName} of HTTPRoute ${p.namespace}/${p.targetName}, which has no rule of that name (${
      named.length ? `rules: ${named.join(", ")}` : "its rules have no names"
    }); not applied.`;
  }
  return undefined;
}

/** A route's attachment to the Gateway `gatewayKey` (`ns/name`), read from an HTTPRoute object. */
function routeFromObject(route: Obj, gatewayKey: string, listeners: readonly ListenerTarget[]): RouteTarget {
  const meta = isObj(route.metadata) ? route.metadata : {};
  const namespace = str(meta.namespace) ?? "default";
  const spec = isObj(route.spec) ? route.spec : {};
  const rules = Array.isArray(spec.rules) ? spec.rules.map((r) => isObj(r) ? str(r.name) : undefined) : [];
  const hostnames = Array.isArray(spec.hostnames)
    ? spec.hostnames.filter((h): h is string => typeof h === "string")
    : [];
  const attached = new Set<string>();
  for (const parent of Array.isArray(spec.parentRefs) ? spec.parentRefs : []) {
    if (!isObj(parent) || (str(parent.kind) ?? "Gateway") !== "Gateway") continue;
    if (`${str(parent.namespace) ?? namespace}/${str(parent.name)}` !== gatewayKey) continue;
    const section = str(parent.sectionName);
    if (section) attached.add(section);
    else for (const l of listeners) attached.add(l.name);
  }
  return { namespace, name: str(meta.name) ?? "", rules, hostnames, listeners: [...attached] };
}

/**
 * The targets of one gateway from Kubernetes objects: the MCPGatewayExtension (its `targetRef`
 * names the Gateway and the MCP listener), the Gateway and HTTPRoutes when present, and the
 * registrations (`mcp.kuadrant.io` MCPServerRegistration) with their `targetRef` routes. The
 * broker's routes are the controller's (`mcp-gateway-route`; `mcp-gateway-tokens-route` with
 * `tokens`), unless HTTPRoute objects of those names say otherwise. Undefined without an extension.
 */
export function policyTargetsFromObjects(
  objects: readonly unknown[],
  options: { tokens?: boolean } = {},
): PolicyTargets | undefined {
  const all = objects.filter(isObj);
  const extension = all.find((o) =>
    o.kind === "MCPGatewayExtension" && groupOf(o.apiVersion) === "mcp.kuadrant.io"
  );
  if (!extension) return undefined;
  const extMeta = isObj(extension.metadata) ? extension.metadata : {};
  const extNs = str(extMeta.namespace) ?? "default";
  const ref = isObj(extension.spec) && isObj(extension.spec.targetRef) ? extension.spec.targetRef : {};
  const gwNs = str(ref.namespace) ?? extNs;
  const gwName = str(ref.name) ?? "";
  const listener = str(ref.sectionName) ?? "";
  const gatewayKey = `${gwNs}/${gwName}`;
  const keyOf = (o: Obj) => {
    const m = isObj(o.metadata) ? o.metadata : {};
    return `${str(m.namespace) ?? "default"}/${str(m.name) ?? ""}`;
  };
  const gatewayObject = all.find((o) =>
    o.kind === "Gateway" && groupOf(o.apiVersion) === GATEWAY_API && keyOf(o) === gatewayKey
  );
  const listeners: ListenerTarget[] = [];
  const gwSpec = gatewayObject && isObj(gatewayObject.spec) ? gatewayObject.spec : undefined;
  for (const l of Array.isArray(gwSpec?.listeners) ? gwSpec.listeners : []) {
    if (isObj(l) && str(l.name)) {
      listeners.push({ name: str(l.name)!, ...(str(l.hostname) ? { hostname: str(l.hostname) } : {}) });
    }
  }
  if (!gatewayObject && listener) listeners.push({ name: listener });
  const routeObjects = new Map(
    all.filter((o) => o.kind === "HTTPRoute" && groupOf(o.apiVersion) === GATEWAY_API).map((
      o,
    ) => [keyOf(o), o]),
  );
  const route = (key: string, fallback: RouteTarget): RouteTarget => {
    const object = routeObjects.get(key);
    return object ? routeFromObject(object, gatewayKey, listeners) : fallback;
  };
  const publicHost = isObj(extension.spec) ? str(extension.spec.publicHost) : undefined;
  const brokerRoute = route(`${extNs}/${BROKER_ROUTE_NAME}`, {
    namespace: extNs,
    name: BROKER_ROUTE_NAME,
    rules: ["mcp", "well-known", "status"],
    hostnames: publicHost ? [publicHost] : [],
    listeners: [listener],
  });
  const servers = new Map<string, RouteTarget>();
  const used = new Set([`${extNs}/${BROKER_ROUTE_NAME}`]);
  for (const o of all) {
    if (o.kind !== "MCPServerRegistration" || groupOf(o.apiVersion) !== "mcp.kuadrant.io") continue;
    const key = keyOf(o);
    const ns = key.slice(0, key.indexOf("/"));
    const target = isObj(o.spec) && isObj(o.spec.targetRef) ? o.spec.targetRef : {};
    const routeNs = str(target.namespace) ?? ns;
    const routeName = str(target.name) ?? "";
    used.add(`${routeNs}/${routeName}`);
    servers.set(
      key,
      route(`${routeNs}/${routeName}`, {
        namespace: routeNs,
        name: routeName,
        rules: [undefined],
        hostnames: [],
        listeners: [],
      }),
    );
  }
  const tokensKey = `${extNs}/${TOKENS_ROUTE_NAME}`;
  used.add(tokensKey);
  const tokensRoute = options.tokens || routeObjects.has(tokensKey)
    ? route(tokensKey, {
      namespace: extNs,
      name: TOKENS_ROUTE_NAME,
      rules: ["tokens"],
      hostnames: publicHost ? [publicHost] : [],
      listeners: [listener],
    })
    : undefined;
  const otherRoutes = [...routeObjects].filter(([key]) => !used.has(key)).map(([, o]) =>
    routeFromObject(o, gatewayKey, listeners)
  );
  return {
    gateway: { namespace: gwNs, name: gwName, listeners, known: !!gatewayObject },
    listener,
    brokerRoute,
    ...(tokensRoute ? { tokensRoute } : {}),
    servers,
    otherRoutes,
  };
}
