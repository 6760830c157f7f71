/**
 * The objects the AuthPolicy unit tests resolve policies against: an MCPGatewayExtension, its Gateway,
 * registrations with their HTTPRoutes, and AuthPolicies on any of them.
 *
 * @module
 */
import { type ParsedPolicy, parsePolicy } from "../../sim/auth/auth_policy_parse.ts";
import { assert } from "./assert.ts";

/** The Gateway's namespace in {@linkcode gatewayObjects}. */
export const GW_NS = "gateway-system";

/**
 * An extension, its Gateway (listeners `mcp` with host mcp.example.com and `mcps` with *.mcp.local),
 * and two registrations `mcp-test/s1` and `mcp-test/s2` with their HTTPRoutes (s1-route, s2-route).
 */
export function gatewayObjects(): unknown[] {
  return [
    {
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPGatewayExtension",
      metadata: { namespace: "mcp-system", name: "ext" },
      spec: {
        targetRef: {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: "mcp-gateway",
          namespace: GW_NS,
          sectionName: "mcp",
        },
        publicHost: "mcp.example.com",
      },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { namespace: GW_NS, name: "mcp-gateway" },
      spec: {
        listeners: [
          { name: "mcp", hostname: "mcp.example.com", port: 8080, protocol: "HTTP" },
          { name: "mcps", hostname: "*.mcp.local", port: 8080, protocol: "HTTP" },
        ],
      },
    },
    httpRoute("mcp-test", "s1-route", "s1.mcp.local"),
    httpRoute("mcp-test", "s2-route", "s2.mcp.local"),
    registration("mcp-test", "s1", "s1-route"),
    registration("mcp-test", "s2", "s2-route"),
  ];
}

/** An HTTPRoute on every listener of the Gateway, for `host`, with one rule (named `rule` when given). */
export function httpRoute(namespace: string, name: string, host: string, rule?: string) {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { namespace, name },
    spec: {
      parentRefs: [{ name: "mcp-gateway", namespace: GW_NS }],
      hostnames: [host],
      rules: [{ ...(rule ? { name: rule } : {}), backendRefs: [{ name, port: 9090 }] }],
    },
  };
}

/** An MCPServerRegistration of `name` targeting HTTPRoute `routeName` in its namespace. */
export function registration(namespace: string, name: string, routeName: string) {
  return {
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPServerRegistration",
    metadata: { namespace, name },
    spec: {
      prefix: `${name}_`,
      targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: routeName },
    },
  };
}

/** An AuthPolicy on `target` with `spec` beside its targetRef, created at `created`. */
export function authPolicy(
  namespace: string,
  name: string,
  target: { kind: "Gateway" | "HTTPRoute"; name: string; sectionName?: string },
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
