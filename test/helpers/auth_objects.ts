/**
 * The cluster objects the AuthPolicy tests and benchmarks build again and again: the
 * MCPGatewayExtension on a Gateway's `mcp` listener, the Gateway, each server's HTTPRoute and
 * MCPServerRegistration, Secrets and AuthPolicies, in the shapes `policyTargetsFromObjects` and
 * `configFromObjects` read (and the API server accepts), plus the rules the unit tests share.
 *
 * @module
 */
import { type ParsedPolicy, parsePolicy } from "../../sim/auth/auth_policy_parse.ts";
import { assert } from "./assert.ts";

/** The Gateway's namespace in these objects. */
export const GATEWAY_NS = "gateway-system";

/** The servers' listener `mcps` (any `*.mcp.local` host) beside the broker's `mcp`. */
export const SERVERS_LISTENER = { name: "mcps", hostname: "*.mcp.local", port: 8080, protocol: "HTTP" };

/** Where an object lives: namespace and name. */
export interface ObjectPlace {
  /** The object's namespace. */
  namespace?: string;
  /** The object's name. */
  name?: string;
}

/** Options for {@linkcode mcpExtension}. */
export interface ExtensionOptions extends ObjectPlace {
  /** The namespace of the Gateway the extension targets ({@linkcode GATEWAY_NS} when absent). */
  gatewayNamespace?: string;
}

/**
 * An MCPGatewayExtension (`mcp-system/ext` unless `options` place it elsewhere) on Gateway
 * `mcp-gateway`'s listener `mcp`, with `spec` added.
 */
export function mcpExtension(spec: Record<string, unknown> = {}, options: ExtensionOptions = {}) {
  return {
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPGatewayExtension",
    metadata: { namespace: options.namespace ?? "mcp-system", name: options.name ?? "ext" },
    spec: {
      targetRef: {
        group: "gateway.networking.k8s.io",
        kind: "Gateway",
        name: "mcp-gateway",
        namespace: options.gatewayNamespace ?? GATEWAY_NS,
        sectionName: "mcp",
      },
      ...spec,
    },
  };
}

/** Options for {@linkcode mcpGateway}. */
export interface GatewayOptions {
  /** The Gateway's namespace ({@linkcode GATEWAY_NS} when absent). */
  namespace?: string;
  /** Adds {@linkcode SERVERS_LISTENER} after `mcp`. */
  serversListener?: boolean;
  /** The GatewayClass, which the API server requires (the simulator does not read it). */
  gatewayClassName?: string;
}

/** The Gateway `mcp-gateway` with its `mcp` listener on `hostname` (any host when absent). */
export function mcpGateway(hostname?: string, options: GatewayOptions = {}) {
  const mcp = { name: "mcp", ...(hostname ? { hostname } : {}), port: 8080, protocol: "HTTP" };
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { namespace: options.namespace ?? GATEWAY_NS, name: "mcp-gateway" },
    spec: {
      ...(options.gatewayClassName ? { gatewayClassName: options.gatewayClassName } : {}),
      listeners: options.serversListener ? [mcp, SERVERS_LISTENER] : [mcp],
    },
  };
}

/** An HTTPRoute on every listener of Gateway `mcp-gateway`, for `host`, sending to Service `backend`. */
export function httpRoute(namespace: string, name: string, host: string, backend = name) {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { namespace, name },
    spec: {
      parentRefs: [{ name: "mcp-gateway", namespace: GATEWAY_NS }],
      hostnames: [host],
      rules: [{ backendRefs: [{ name: backend, port: 9090 }] }],
    },
  };
}

/**
 * An MCPServerRegistration of `name` targeting HTTPRoute `routeName` in its namespace, with prefix
 * `<name>_` unless `spec` says otherwise.
 */
export function registration(
  namespace: string,
  name: string,
  routeName: string,
  spec: Record<string, unknown> = {},
) {
  return {
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPServerRegistration",
    metadata: { namespace, name },
    spec: {
      prefix: `${name}_`,
      targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: routeName },
      ...spec,
    },
  };
}

/** Server `name`'s HTTPRoute `<name>-route` (host `<name>.mcp.local`) and its registration with `prefix`. */
export function mcpServer(
  namespace: string,
  name: string,
  prefix: string,
  spec: Record<string, unknown> = {},
) {
  return [
    httpRoute(namespace, `${name}-route`, `${name}.mcp.local`, name),
    registration(namespace, name, `${name}-route`, { prefix, ...spec }),
  ];
}

/**
 * An extension, its Gateway (listeners `mcp` with host mcp.example.com and `mcps` with *.mcp.local),
 * and two registrations `mcp-test/s1` and `mcp-test/s2` with their HTTPRoutes (s1-route, s2-route).
 */
export function gatewayObjects(): unknown[] {
  return [
    mcpExtension({ publicHost: "mcp.example.com" }),
    mcpGateway("mcp.example.com", { serversListener: true }),
    httpRoute("mcp-test", "s1-route", "s1.mcp.local"),
    httpRoute("mcp-test", "s2-route", "s2.mcp.local"),
    registration("mcp-test", "s1", "s1-route"),
    registration("mcp-test", "s2", "s2-route"),
  ];
}

/** Options for {@linkcode secret}. */
export interface SecretOptions {
  /** The Secret's labels. */
  labels?: Record<string, string>;
  /** Values as written, stored base64-encoded. */
  stringData?: Record<string, string>;
  /** Values already base64-encoded. */
  data?: Record<string, string>;
}

/** A v1 Secret `namespace/name`. */
export function secret(namespace: string, name: string, options: SecretOptions = {}) {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { namespace, name, ...(options.labels ? { labels: options.labels } : {}) },
    ...(options.data ? { data: options.data } : {}),
    ...(options.stringData ? { stringData: options.stringData } : {}),
  };
}

/** An AuthPolicy on `target` (group filled in) with `spec` beside its targetRef, created at `created`. */
export function authPolicy(
  namespace: string,
  name: string,
  target: { kind: string; name: string; sectionName?: string },
  spec: Record<string, unknown>,
  created = "2026-01-01T00:00:00Z",
) {
  return {
    apiVersion: "kuadrant.io/v1",
    kind: "AuthPolicy",
    metadata: { namespace, name, creationTimestamp: created },
    spec: { targetRef: { group: "gateway.networking.k8s.io", ...target }, ...spec },
  };
}

/** An anonymous authentication rule. */
export const ANON = { anonymous: {} };
/** An API key authentication rule. */
export const API_KEY = { apiKey: { selector: { matchLabels: { app: "x" } } } };
/** A pattern-matching authorization rule that lets only `tool` through. */
export const allowTool = (tool: string) => ({
  patternMatching: { patterns: [{ predicate: `request.headers['x-mcp-toolname'] == '${tool}'` }] },
});

/** Parses `object` as an AuthPolicy, failing the test (with the reason) when it does not parse. */
export function parsedPolicy(object: unknown): ParsedPolicy {
  const policy = parsePolicy(object as Record<string, unknown>);
  assert(typeof policy !== "string", String(policy));
  return policy;
}
