/**
 * What AuthPolicies attach to, and how: the Gateway, one of its listeners (`sectionName`), an
 * HTTPRoute or one of its rules, read from the replayed objects; which listener a route's traffic
 * arrives through; and which policies lie along one path Gateway -> listener -> HTTPRoute -> rule.
 *
 * The simulator serves one gateway listener (the MCPGatewayExtension's `targetRef`): the broker's
 * own routes (`mcp-gateway-route` with rules `mcp`, `well-known`, `status`; `mcp-gateway-tokens-route`
 * with rule `tokens`, which the controller creates in the extension's namespace) and each
 * registration's HTTPRoute, which governs the `tools/call` and `prompts/get` routed to its server.
 *
 * @module
 */
import type { ParsedPolicy } from "./auth_policy_parse.ts";
import { GATEWAY_API, groupOf, isObj, type Obj, objectKey, str } from "./kube_object.ts";

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

/** How the start-up table and messages name a policy's target, e.g. `Gateway ns/gw listener mcp`. */
export const describeTarget = (p: ParsedPolicy): string =>
  `${p.targetKind} ${p.namespace}/${p.targetName}${
    p.sectionName ? ` ${p.targetKind === "Gateway" ? "listener" : "rule"} ${p.sectionName}` : ""
  }`;

/** Whether `policy` targets the replayed Gateway (itself or one of its listeners). */
export function onGateway(policy: ParsedPolicy, targets: PolicyTargets): boolean {
  const gw = targets.gateway;
  return policy.targetKind === "Gateway" && policy.namespace === gw.namespace &&
    policy.targetName === gw.name;
}

/** Whether `policy` targets `route` (itself or one of its rules). */
export function onRoute(policy: ParsedPolicy, route: RouteTarget): boolean {
  return policy.targetKind === "HTTPRoute" && policy.namespace === route.namespace &&
    policy.targetName === route.name;
}

/**
 * The policies along Gateway -> listener -> `route` -> `rule`, least specific first; within one
 * target they keep the order of `policies`.
 */
export function policiesAlongPath(
  policies: readonly ParsedPolicy[],
  targets: PolicyTargets,
  route: RouteTarget,
  rule: string | undefined,
): ParsedPolicy[] {
  const listener = routeListener(targets, route);
  return [
    ...policies.filter((p) => onGateway(p, targets) && !p.sectionName),
    ...policies.filter((p) =>
      onGateway(p, targets) && p.sectionName !== undefined && p.sectionName === listener
    ),
    ...policies.filter((p) => onRoute(p, route) && !p.sectionName),
    ...policies.filter((p) => onRoute(p, route) && p.sectionName !== undefined && p.sectionName === rule),
  ];
}

/** Why `p`'s target is not among `targets` (one sentence naming the policy and target); undefined when it is. */
export function missingTarget(p: ParsedPolicy, targets: PolicyTargets): string | undefined {
  const gw = targets.gateway;
  if (p.targetKind === "Gateway") {
    if (p.namespace !== gw.namespace || p.targetName !== gw.name) {
      return `${
        p.kind ?? "AuthPolicy"
      } ${p.key} targets Gateway ${p.namespace}/${p.targetName}, which is not among the objects (this replay serves Gateway ${gw.namespace}/${gw.name}); not applied.`;
    }
    if (p.sectionName && !gw.listeners.some((l) => l.name === p.sectionName)) {
      const known = gw.listeners.map((l) => l.name).join(", ");
      return `${
        p.kind ?? "AuthPolicy"
      } ${p.key} targets listener ${p.sectionName} of Gateway ${gw.namespace}/${gw.name}, which has no such listener (${
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
    return `${
      p.kind ?? "AuthPolicy"
    } ${p.key} targets HTTPRoute ${p.namespace}/${p.targetName}, which is not among the objects; not applied.`;
  }
  if (p.sectionName && !route.rules.includes(p.sectionName)) {
    const named = route.rules.filter((r) => r !== undefined);
    return `${
      p.kind ?? "AuthPolicy"
    } ${p.key} targets rule ${p.sectionName} of HTTPRoute ${p.namespace}/${p.targetName}, which has no rule of that name (${
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
  const gatewayObject = all.find((o) =>
    o.kind === "Gateway" && groupOf(o.apiVersion) === GATEWAY_API && objectKey(o) === gatewayKey
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
    ) => [objectKey(o), o]),
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
    const key = objectKey(o);
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

/**
 * Why a policy that applies nowhere does not: superseded by more specific defaults or broader
 * overrides when its target serves requests (`reason` only), else a target no request passes (also a
 * `not-served` problem). `what` names what a policy holds (`rules`, `limits`).
 */
export function whyAppliesNowhere(
  policy: ParsedPolicy,
  targets: PolicyTargets,
  what: "rules" | "limits",
): { reason: string; problem?: { policy: string; code: "not-served"; message: string } } {
  const served = onGateway(policy, targets) || onRoute(policy, targets.brokerRoute) ||
    (targets.tokensRoute && onRoute(policy, targets.tokensRoute)) ||
    [...targets.servers.values()].some((r) => onRoute(policy, r));
  if (served) {
    return { reason: `superseded: more specific defaults or broader overrides replace all of its ${what}` };
  }
  return {
    reason: `${
      describeTarget(policy)
    } serves nothing the simulator serves (no registration routes through it)`,
    problem: {
      policy: policy.key,
      code: "not-served",
      message: `${policy.kind ?? "AuthPolicy"} ${policy.key} targets ${
        describeTarget(policy)
      }, which no request to this gateway passes.`,
    },
  };
}
