/**
 * The cluster objects the AuthPolicy tests build again and again: the MCPGatewayExtension on a
 * Gateway's `mcp` listener, the Gateway, each server's HTTPRoute and MCPServerRegistration, and an
 * AuthPolicy, in the shapes `policyTargetsFromObjects` and `configFromObjects` read.
 *
 * @module
 */

/** The Gateway's namespace in these objects. */
export const GATEWAY_NS = "gateway-system";

/** An MCPGatewayExtension in `mcp-system` on Gateway `mcp-gateway`'s listener `mcp`, with `spec` added. */
export function mcpExtension(spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPGatewayExtension",
    metadata: { namespace: "mcp-system", name: "ext" },
    spec: {
      targetRef: {
        group: "gateway.networking.k8s.io",
        kind: "Gateway",
        name: "mcp-gateway",
        namespace: GATEWAY_NS,
        sectionName: "mcp",
      },
      ...spec,
    },
  };
}

/** The Gateway `mcp-gateway` with its `mcp` listener on `hostname` (any host when absent). */
export function mcpGateway(hostname?: string) {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { namespace: GATEWAY_NS, name: "mcp-gateway" },
    spec: { listeners: [{ name: "mcp", ...(hostname ? { hostname } : {}), port: 8080, protocol: "HTTP" }] },
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
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { namespace, name: `${name}-route` },
      spec: {
        parentRefs: [{ name: "mcp-gateway", namespace: GATEWAY_NS }],
        hostnames: [`${name}.mcp.local`],
        rules: [{ backendRefs: [{ name, port: 9090 }] }],
      },
    },
    {
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPServerRegistration",
      metadata: { namespace, name },
      spec: {
        prefix,
        targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: `${name}-route` },
        ...spec,
      },
    },
  ];
}

/** An AuthPolicy on `targetRef` (group filled in) with `spec`. */
export function authPolicy(
  namespace: string,
  name: string,
  targetRef: { kind: string; name: string },
  spec: Record<string, unknown>,
) {
  return {
    apiVersion: "kuadrant.io/v1",
    kind: "AuthPolicy",
    metadata: { namespace, name, creationTimestamp: "2026-01-01T00:00:00Z" },
    spec: { targetRef: { group: "gateway.networking.k8s.io", ...targetRef }, ...spec },
  };
}
